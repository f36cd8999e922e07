/* The table of source kinds. */
#include <stdlib.h>

#include "engine/sources/source.h"

static const aspd_source_row_t *const rows[] = {
    [ASPD_SOURCE_SAMPLE] = &aspd_source_sample_row,
    [ASPD_SOURCE_DOCUMENTS] = &aspd_source_documents_row,
    [ASPD_SOURCE_TOPIC] = &aspd_source_topic_row,
    [ASPD_SOURCE_CHANGE_STREAM] = &aspd_source_change_stream_row,
};

const aspd_source_row_t *aspd_source_row(aspd_source_kind_t kind) {
  return rows[kind];
}

void aspd_source_spec_free(aspd_source_spec_t *spec) {
  if (spec->documents) bson_destroy(spec->documents);
  free(spec->document_data);
  free(spec->document_len);
  free(spec->connection);
  free(spec->topic);
  free(spec->db);
  for (size_t i = 0; i < spec->coll_count; i++) free(spec->colls[i]);
  free(spec->colls);
}
