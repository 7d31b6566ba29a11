/// Which routes a listening socket serves: all of them, or, with
/// `admin_port`, the public ones on `port` and the admin ones on `admin_port`
/// (`/health` on both, for load balancers and orchestrators).
package enum ListenerRole: Sendable {
    case all
    case publicOnly
    case adminOnly

    /// `route`, or `.notFound` when this listener does not serve it.
    func serves(_ route: Route) -> Route {
        switch self {
        case .all: return route
        case .publicOnly: return route.isAdmin ? .notFound : route
        case .adminOnly: return route.isAdmin || route == .health ? route : .notFound
        }
    }
}
