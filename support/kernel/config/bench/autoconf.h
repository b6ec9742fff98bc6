/*
 * The benchmark variant of our kernel configuration, for the evaluation (`make eval`):
 * everything as in the default config/autoconf.h, plus the kernel's per-thread utilisation
 * accounting (Kconfig choice "Enable benchmarks" = BENCHMARK_TRACK_UTILISATION): the kernel
 * stamps the TSC at every entry and adds each thread's (and the idle thread's) running time,
 * which the monitor reads with seL4_BenchmarkGetThreadUtilisation for the console's `cpu`.
 * Build with `support/kernel/build.sh --bench`. Our patch-source.py adds the accounting to the
 * x86_64 IPC fastpath, which seL4 5.0 only does on ia32 (without it, fastpath switches would
 * charge the callee's time to the caller).
 */
#ifndef AUTOCONF_BENCH_INCLUDED
#define AUTOCONF_BENCH_INCLUDED
#include "../autoconf.h"

#undef CONFIG_NO_BENCHMARKS
#define CONFIG_ENABLE_BENCHMARKS 1
#define CONFIG_BENCHMARK_TRACK_UTILISATION 1

#endif /* AUTOCONF_BENCH_INCLUDED */
