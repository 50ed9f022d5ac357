// recsys_status.h is header-only; SwiftPM needs one source file per C target.
#include "recsys_status.h"
