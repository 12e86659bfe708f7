#ifndef CLUSTERTOOLS_CJANSSON_SHIM_H
#define CLUSTERTOOLS_CJANSSON_SHIM_H
#include <jansson.h>
#endif
