#include "CRiverSystem.h"
