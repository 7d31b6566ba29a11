import NIOCore
import RiverCore
import RiverTesting
import Testing

/// Presence (PROTOCOL.md C3) as every engine keeps it: subscriptions
/// counted, members by user, joins on a user's first subscription, leaves
/// after `presence_leave_delay` once its last ended, snapshots capped.
extension EngineConformanceTests {
    func member(_ user: String) -> PresenceMember { PresenceMember(user: user, info: ByteBuffer(string: "{\"n\": 1}")) }

    /// Subscribes `member` on hub `hub` (a watcher records the events of others).
    func join(
        _ engine: Engine,
        _ fanOut: FanOut,
        hub: Int,
        to channel: ChannelName,
        as member: PresenceMember?
    ) async throws -> (NIOLoopBound<RecordingSubscriber>, Interest) {
        let hubBox = fanOut.hubs[hub]
        return try await hubBox.eventLoop.flatSubmit {
            engine.subscribe(to: channel, from: .live, hubIndex: hub, member: member).map { subscribed in
                let subscriber = RecordingSubscriber()
                subscriber.member = member
                subscriber.apply(subscribed.catchUp)
                hubBox.value.add(subscriber, to: channel)
                return (NIOLoopBound(subscriber, eventLoop: hubBox.eventLoop), subscribed.interest)
            }
        }.get()
    }

    func events(_ subscriber: NIOLoopBound<RecordingSubscriber>) async throws -> [String] {
        try await subscriber.eventLoop.submit { subscriber.value.presence }.get()
    }

    @Test(arguments: Kind.allCases)
    func joinsAndLeavesFollowUsersNotConnections(kind: Kind) async throws {
        // (A 4 s delay leaves room for a loaded machine between unsubscribing and the snapshot.)
        try await withEngine(kind, leaveDelay: .seconds(4)) { engine, fanOut, group in
            let channel = self.name("room")
            let loop = group.next()
            let (watcher, _) = try await self.join(engine, fanOut, hub: 1, to: channel, as: nil)
            let (_, first) = try await self.join(engine, fanOut, hub: 0, to: channel, as: self.member("u1"))
            try await RiverTesting.eventually("u1 joins") { try await self.events(watcher) == ["join u1"] }
            let (_, second) = try await self.join(engine, fanOut, hub: 1, to: channel, as: self.member("u1"))
            var snapshot = try await engine.presence(of: channel, limit: 10, on: loop).get()
            #expect(snapshot.connections == 3)
            #expect(snapshot.users == 1)
            #expect(snapshot.members.map(\.connections) == [2])
            #expect(snapshot.members.first.map { String(buffer: $0.member.info ?? ByteBuffer()) } == "{\"n\": 1}")

            engine.unsubscribe(first)
            engine.unsubscribe(second)
            try await RiverTesting.eventually("the connections drop at once") {
                try await engine.presence(of: channel, limit: 10, on: loop).get().connections == 1
            }
            snapshot = try await engine.presence(of: channel, limit: 10, on: loop).get()
            #expect(snapshot.users == 1, "listed until the leave delay passes")
            try await RiverTesting.eventually("u1 leaves after the delay") {
                try await self.events(watcher) == ["join u1", "leave u1"]
            }
            #expect(try await engine.presence(of: channel, limit: 10, on: loop).get().users == 0)
        }
    }

    @Test(arguments: Kind.allCases)
    func aReconnectWithinTheDelayIsNeitherALeaveNorAJoin(kind: Kind) async throws {
        try await withEngine(kind, leaveDelay: .seconds(2)) { engine, fanOut, group in
            let channel = self.name("flap")
            let (watcher, _) = try await self.join(engine, fanOut, hub: 0, to: channel, as: nil)
            let (_, first) = try await self.join(engine, fanOut, hub: 1, to: channel, as: self.member("u2"))
            engine.unsubscribe(first)
            let (_, again) = try await self.join(engine, fanOut, hub: 0, to: channel, as: self.member("u2"))
            // (u2's join reaches each hub when it does: the probe joins where the watcher already has it.)
            try await RiverTesting.eventually("u2 joins") { try await self.events(watcher) == ["join u2"] }
            // The leave the first subscription scheduled comes due, and finds u2 back.
            let (probe, probeInterest) = try await self.join(engine, fanOut, hub: 0, to: channel, as: self.member("p"))
            engine.unsubscribe(probeInterest)
            try await RiverTesting.eventually("the probe's own leave comes due after u2's would have") {
                try await self.events(watcher).last == "leave p"
            }
            #expect(try await self.events(watcher) == ["join u2", "join p", "leave p"])
            #expect(try await self.events(probe) == [], "a member is not told of itself")
            engine.unsubscribe(again)
        }
    }

    @Test(arguments: Kind.allCases)
    func aSnapshotIsCappedButCountsEveryUser(kind: Kind) async throws {
        try await withEngine(kind) { engine, fanOut, group in
            let channel = self.name("crowd")
            for user in ["e", "a", "d", "b", "c"] {
                _ = try await self.join(engine, fanOut, hub: 0, to: channel, as: self.member(user))
            }
            let snapshot = try await engine.presence(of: channel, limit: 3, on: group.next()).get()
            #expect(snapshot.users == 5)
            #expect(snapshot.connections == 5)
            #expect(snapshot.members.map(\.member.user) == ["a", "b", "c"])
            #expect(snapshot.truncated)
            let nobody = try await engine.presence(of: self.name("empty"), limit: 3, on: group.next()).get()
            #expect(nobody.connections == 0 && nobody.users == 0 && nobody.members.isEmpty && !nobody.truncated)
        }
    }
}
