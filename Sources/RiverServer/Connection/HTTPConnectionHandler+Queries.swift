import NIOCore
import RiverCore

/// Requests answered from what the engine knows: the admin routes and `/presence`.
extension HTTPConnectionHandler {
    func answerAdmin(_ route: Route, _ request: ParsedRequest, headers: [(String, String)]) {
        guard let context = self.context else { return }
        let answer: EventLoopFuture<AdminResponder.Answer>
        do {
            answer = try AdminResponder.respond(to: route, request: request, server: self.server, on: context.eventLoop)
        } catch {
            self.respond(.refusal(error, headers: headers), to: request.head)
            return
        }
        answer.assumeIsolated().whenComplete { result in
            switch result {
            case .success(.document(let contentType, let body)):
                let response = CompleteResponse(status: .ok, contentType: contentType, headers: headers, body: body)
                self.respond(response, to: request.head)
            case .success(.refused(let error)):
                self.respond(.refusal(error, headers: headers), to: request.head)
            case .failure(let error):
                let refusal = RequestError.engineFailure(error)
                if refusal.status == .internalServerError {
                    self.server.logger.error("an admin route failed", metadata: ["error": "\(error)"])
                }
                self.respond(.refusal(refusal, headers: headers), to: request.head)
            }
            self.continueAfterAnswer()
        }
    }

    /// `GET /presence`: who is on the channel.
    func answerPresence(_ channel: ChannelName, _ request: ParsedRequest, headers: [(String, String)]) {
        guard let context = self.context else { return }
        let limit = self.server.configuration.maxPresenceMembers
        self.server.engine.presence(of: channel, limit: limit, on: context.eventLoop).assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let snapshot):
                    self.respond(PresenceResponder.response(snapshot, headers: headers), to: request.head)
                case .failure(let error):
                    let refusal = RequestError.engineFailure(error, doing: "cannot read the presence of \(channel)")
                    self.respond(.refusal(refusal, headers: headers), to: request.head)
                }
                self.continueAfterAnswer()
            }
    }
}
