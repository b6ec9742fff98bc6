/*
 * The IOMMU (Intel VT-d) variant of our kernel configuration: everything as in the default
 * config/autoconf.h, plus CONFIG_IOMMU (the Kconfig default for pc99, which the default
 * variant turns off). Used for DMA confinement: build with `support/kernel/build.sh --iommu`
 * and boot QEMU with `-device intel-iommu` (q35, kernel-irqchip=split).
 */
#ifndef AUTOCONF_IOMMU_INCLUDED
#define AUTOCONF_IOMMU_INCLUDED
#include "../autoconf.h"

#define CONFIG_IOMMU 1
#define CONFIG_MAX_RMRR_ENTRIES 32

#endif /* AUTOCONF_IOMMU_INCLUDED */
