// Forwarding header: the status macros live in the neutral tconv::status target
// (status/include/tconv/status/status_macros.h) so that code that does not need the kernel
// (the client) can use them without linking it.
#ifndef TCONV_KERNEL_STATUS_MACROS_H_
#define TCONV_KERNEL_STATUS_MACROS_H_

#include "tconv/status/status_macros.h"  // IWYU pragma: export

#endif  // TCONV_KERNEL_STATUS_MACROS_H_
