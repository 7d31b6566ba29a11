/// Reports an event a connection machine cannot receive in its current state.
///
/// Such an event is a bug in River, never the peer's doing: debug builds trap with the machine,
/// the event and the state; release builds go on with the caller's safe fallback.
func impossibleTransition<Fallback>(
    in machine: String,
    _ event: String,
    state: some Any,
    fallback: Fallback
) -> Fallback {
    assertionFailure("Internal inconsistency in \(machine): \(event) in \(state)")
    return fallback
}
