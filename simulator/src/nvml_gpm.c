/* placeholder, filled in below */
#include "nvml_common.h"
