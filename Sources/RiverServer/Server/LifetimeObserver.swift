/// Told of every object a server makes per connection (channels, handlers,
/// subscribers), so a test can hold them weakly and check that a closed
/// connection freed them all. Production servers run without one; the test
/// kit's `LifetimeProbe` is the implementation.
public protocol LifetimeObserver: AnyObject, Sendable {
    /// Called on the object's event loop when it is made.
    func track(_ object: AnyObject)
}
