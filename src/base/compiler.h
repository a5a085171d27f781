/* Compiler hints that every layer may use. */
#ifndef WEFT_COMPILER_H
#define WEFT_COMPILER_H

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#endif
