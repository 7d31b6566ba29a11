import NIOCore

/// Runs Swift concurrency jobs on an event loop (SE-0417), so async library
/// code a request needs (token verification) runs on the connection's own
/// thread instead of waiting for the shared cooperative pool.
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: EventLoop

    init(_ eventLoop: EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        self.eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
