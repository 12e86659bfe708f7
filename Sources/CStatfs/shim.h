#ifndef CLUSTERTOOLS_CSTATFS_SHIM_H
#define CLUSTERTOOLS_CSTATFS_SHIM_H
/* fstatfs(2) and struct statfs, which Swift's Glibc module does not bring in: the file system's
   type (f_type), to tell local file systems from network ones whose inotify events are partial. */
#ifdef __linux__
#include <sys/vfs.h>
#endif
#endif
