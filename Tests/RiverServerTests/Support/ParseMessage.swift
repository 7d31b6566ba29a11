import Foundation
import RiverTesting

/// The seq and data of a river message chunk (`["msg", {..., "seq": N, "data": "..."}]`).
func parseMessage(_ chunk: String) throws -> (seq: Int, data: String) {
    let object = try JSONSerialization.jsonObject(with: Data(chunk.utf8)) as? [Any]
    guard let object, object.count == 2, object[0] as? String == "msg", let body = object[1] as? [String: Any],
        let seq = body["seq"] as? Int, let data = body["data"] as? String
    else {
        throw TestFailure("not a river message: \(chunk)")
    }
    return (seq, data)
}
