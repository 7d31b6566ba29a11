// The target's code is all in include/CZlib.h; SwiftPM needs one source file.
