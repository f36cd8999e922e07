/* Authentication tells nothing: saslStart for an unknown user looks and costs the same as
 * for a real one. The reply has the same shape (salt length, iteration count) and the
 * unknown user's decoy salt is the same after a restart. Timing: many interleaved samples
 * on one connection, compared with a rank test (Mann-Whitney U) and by their medians. A
 * round fails when the difference is both statistically clear (|z| > 5) and large (10 % of
 * the median; the leak this guards against was 15-30 %), and the test fails only when
 * every one of up to three rounds does: a burst of load on the machine can skew one round,
 * a real difference skews them all. */
#include <math.h>
#include <mongoc/mongoc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aspd_harness.h"
#include "check_msg.h"
#include "tls_probe.h"

#define WARMUP 100
#define PAIRS 1500
#define KNOWN "asp-dev"   /* the harness's --dev user */
#define UNKNOWN "asp-xyz" /* same length: the name's length must not be what differs */

typedef struct {
  char salt[128];
  char iterations[16];
} first_reply_t;

static void put_i32(uint8_t *p, int32_t v) {
  memcpy(p, &v, 4); /* little-endian host */
}

/* One saslStart round trip; fills *reply from the server-first message. Returns seconds. */
static double sasl_start(tls_probe_t *p, const char *user, first_reply_t *reply) {
  char payload[128];
  snprintf(payload, sizeof payload, "n,,n=%s,r=fyko+d2lbbFgONRv9qkxdawL", user);
  bson_t *cmd =
      BCON_NEW("saslStart", BCON_INT32(1), "mechanism", BCON_UTF8("SCRAM-SHA-256"), "payload",
               BCON_BIN(BSON_SUBTYPE_BINARY, (const uint8_t *)payload, (uint32_t)strlen(payload)),
               "autoAuthorize", BCON_INT32(1), "$db", BCON_UTF8("admin"));
  uint8_t msg[512];
  size_t len = 16 + 4 + 1 + cmd->len;
  put_i32(msg, (int32_t)len);
  put_i32(msg + 4, 1);
  put_i32(msg + 8, 0);
  put_i32(msg + 12, 2013);
  memset(msg + 16, 0, 5);
  memcpy(msg + 21, bson_get_data(cmd), cmd->len);
  bson_destroy(cmd);

  double t0 = tls_probe_now();
  uint8_t in[4096];
  size_t got = 0, n = 0;
  int32_t want = 16;
  bool ok = tls_probe_send(p, msg, len);
  while (ok && got < (size_t)want) {
    ok = SSL_read_ex(p->ssl, in + got, sizeof in - got, &n) == 1;
    got += n;
    if (got >= 4) memcpy(&want, in, 4);
    if (want < 16 || want > (int32_t)sizeof in) ok = false;
  }
  double elapsed = tls_probe_now() - t0;
  if (!ok) {
    fprintf(stderr, "saslStart round trip failed\n");
    exit(1);
  }
  bson_t doc;
  bson_iter_t it;
  const uint8_t *data = NULL;
  uint32_t data_len = 0;
  if (bson_init_static(&doc, in + 21, (size_t)want - 21) &&
      bson_iter_init_find(&it, &doc, "payload") && BSON_ITER_HOLDS_BINARY(&it)) {
    bson_iter_binary(&it, NULL, &data_len, &data);
  }
  char text[512] = "";
  if (data) snprintf(text, sizeof text, "%.*s", (int)data_len, (const char *)data);
  const char *s = strstr(text, ",s="), *i = strstr(text, ",i=");
  CHECK(s && i && i > s, "saslStart for %s: no salt/iterations in '%s'", user, text);
  if (s && i && i > s) {
    snprintf(reply->salt, sizeof reply->salt, "%.*s", (int)(i - s - 3), s + 3);
    snprintf(reply->iterations, sizeof reply->iterations, "%s", i + 3);
  }
  return elapsed;
}

static int compare(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, size_t n) {
  qsort(v, n, sizeof *v, compare);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Mann-Whitney U as a z score (normal approximation, ties given their mean rank). */
static double rank_z(const double *a, const double *b, size_t n) {
  typedef struct {
    double v;
    int group;
  } item_t;
  item_t *all = malloc(2 * n * sizeof *all);
  for (size_t i = 0; i < n; i++) {
    all[i] = (item_t){a[i], 0};
    all[n + i] = (item_t){b[i], 1};
  }
  qsort(all, 2 * n, sizeof *all, compare); /* v is the first member */
  double rank_sum_a = 0;
  for (size_t i = 0; i < 2 * n;) {
    size_t j = i;
    while (j < 2 * n && all[j].v == all[i].v) j++;
    double mean_rank = (double)(i + 1 + j) / 2.0;
    for (size_t k = i; k < j; k++) {
      if (all[k].group == 0) rank_sum_a += mean_rank;
    }
    i = j;
  }
  free(all);
  double nn = (double)n;
  double u = rank_sum_a - nn * (nn + 1) / 2;
  double mean = nn * nn / 2, sd = sqrt(nn * nn * (2 * nn + 1) / 12);
  return (u - mean) / sd;
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  aspd_instance_t inst;
  if (!aspd_harness_start(&inst, NULL, NULL)) return 1;
  tls_probe_t p;
  if (!tls_probe_open(&p, &inst)) return 1;

  first_reply_t known, unknown, unknown_before;
  for (int i = 0; i < WARMUP; i++) {
    sasl_start(&p, KNOWN, &known);
    sasl_start(&p, UNKNOWN, &unknown);
  }
  CHECK(strlen(known.salt) == strlen(unknown.salt), "salt lengths differ: %s / %s", known.salt,
        unknown.salt);
  CHECK(strcmp(known.iterations, unknown.iterations) == 0, "iteration counts differ: %s / %s",
        known.iterations, unknown.iterations);
  unknown_before = unknown;

  double *t_known = malloc(PAIRS * sizeof *t_known), *t_unknown = malloc(PAIRS * sizeof *t_unknown);
  unsigned seed = 12345;
  bool apart = true;
  for (int round = 0; round < 3 && apart; round++) {
    for (int i = 0; i < PAIRS; i++) {
      if (rand_r(&seed) & 1) {
        t_known[i] = sasl_start(&p, KNOWN, &known);
        t_unknown[i] = sasl_start(&p, UNKNOWN, &unknown);
      } else {
        t_unknown[i] = sasl_start(&p, UNKNOWN, &unknown);
        t_known[i] = sasl_start(&p, KNOWN, &known);
      }
    }
    double z = rank_z(t_known, t_unknown, PAIRS);
    double m_known = median(t_known, PAIRS), m_unknown = median(t_unknown, PAIRS);
    double relative = fabs(m_known - m_unknown) / m_known;
    printf("saslStart median: real user %.1f us, unknown user %.1f us (%.1f %%), rank z = %.2f\n",
           m_known * 1e6, m_unknown * 1e6, relative * 100, z);
    apart = fabs(z) > 5.0 && relative > 0.10;
  }
  CHECK(!apart, "saslStart timing tells a real user from an unknown one in every round");
  tls_probe_close(&p);
  free(t_known);
  free(t_unknown);

  /* The decoy comes from the persisted server secret: the same after a restart. */
  char state_dir[512];
  snprintf(state_dir, sizeof state_dir, "%s", inst.state_dir);
  CHECK(aspd_harness_stop(&inst) == 0, "aspd did not exit 0");
  if (!aspd_harness_start(&inst, state_dir, NULL) || !tls_probe_open(&p, &inst)) return 1;
  sasl_start(&p, UNKNOWN, &unknown);
  CHECK(strcmp(unknown.salt, unknown_before.salt) == 0, "decoy salt changed at restart: %s / %s",
        unknown_before.salt, unknown.salt);
  first_reply_t other;
  sasl_start(&p, "asp-abc", &other);
  CHECK(strcmp(other.salt, unknown.salt) != 0, "two unknown users share a decoy salt");
  tls_probe_close(&p);
  CHECK(aspd_harness_stop(&inst) == 0, "aspd did not exit 0");

  /* An earlier version's STATE/server-secret file is imported once (and goes): two state
   * directories given the same file give an unknown user the same decoy. */
  first_reply_t imported[2];
  for (int i = 0; i < 2; i++) {
    char dir[512], path[1024];
    if (!aspd_harness_tempdir(dir, sizeof dir) ||
        !aspd_harness_write_file(dir, "server-secret", "0123456789abcdef0123456789abcdef", path,
                                 sizeof path) ||
        !aspd_harness_start(&inst, dir, NULL) || !tls_probe_open(&p, &inst)) {
      return 1;
    }
    sasl_start(&p, UNKNOWN, &imported[i]);
    tls_probe_close(&p);
    CHECK(access(path, F_OK) != 0, "the imported %s is still there", path);
    CHECK(aspd_harness_stop(&inst) == 0, "aspd did not exit 0");
  }
  CHECK(strcmp(imported[0].salt, imported[1].salt) == 0, "imported secrets differ: %s / %s",
        imported[0].salt, imported[1].salt);
  CHECK(strcmp(imported[0].salt, unknown.salt) != 0, "an imported secret gave the old decoy");
  return check_msg_report("auth_timing");
}
