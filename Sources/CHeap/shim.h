#ifndef CLUSTERTOOLS_CHEAP_SHIM_H
#define CLUSTERTOOLS_CHEAP_SHIM_H
/* glibc's heap controls (malloc_trim, mallopt), which Swift's Glibc module leaves out. */
#include <malloc.h>
#endif
