// recsys_plugin.h is header-only; SwiftPM needs one source file per C target.
#include "recsys_plugin.h"
