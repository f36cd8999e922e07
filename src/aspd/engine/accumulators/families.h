/* The accumulator families (one file each), listed in accumulators.c. */
#ifndef ASPD_ACC_FAMILIES_H
#define ASPD_ACC_FAMILIES_H

#include "engine/accumulators/accumulators.h"

/* basic.c: $sum $avg $count $min $max $first $last $push $addToSet $mergeObjects */
extern const aspd_accumulator_t aspd_acc_basic[];
/* stats.c: $stdDevPop $stdDevSamp $median $percentile */
extern const aspd_accumulator_t aspd_acc_stats[];
/* n.c: $firstN $lastN $maxN $minN $top $bottom $topN $bottomN */
extern const aspd_accumulator_t aspd_acc_n[];

#endif
