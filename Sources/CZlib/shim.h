#ifndef CLUSTERTOOLS_CZLIB_SHIM_H
#define CLUSTERTOOLS_CZLIB_SHIM_H
#include <zlib.h>
#endif
