/// Stops the process with `message` unless `condition` holds, in every build:
/// an optimised build drops a `precondition`'s message, and the fuzzer is
/// optimised, so its crash reports would not say what was violated.
func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError(message()) }
}
