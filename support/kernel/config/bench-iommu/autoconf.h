/*
 * The benchmark variant with the IOMMU: everything as in config/bench/autoconf.h (the
 * evaluation's per-thread utilisation accounting), plus CONFIG_IOMMU as in
 * config/iommu/autoconf.h, so `make eval` can measure what DMA confinement costs.
 * Build with `support/kernel/build.sh --bench --iommu`.
 */
#ifndef AUTOCONF_BENCH_IOMMU_INCLUDED
#define AUTOCONF_BENCH_IOMMU_INCLUDED
#include "../bench/autoconf.h"

#define CONFIG_IOMMU 1
#define CONFIG_MAX_RMRR_ENTRIES 32

#endif /* AUTOCONF_BENCH_IOMMU_INCLUDED */
