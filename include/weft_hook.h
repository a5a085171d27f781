/* weft_hook.h: libweft-hook.so (placeholder, filled below). */
#ifndef WEFT_HOOK_H_PUBLIC
#define WEFT_HOOK_H_PUBLIC
#include "weft.h"
#endif
