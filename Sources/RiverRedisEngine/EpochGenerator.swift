/// Random epochs below 2^53 (so JavaScript clients read them exactly),
/// from a SplitMix64 sequence seeded once from the system's generator: the
/// publish path asks for one per publish (in case the channel must start),
/// and a system random number costs a system call.
struct EpochGenerator {
    private var state: UInt64

    init() {
        self.state = UInt64.random(in: .min ... .max)
    }

    mutating func next() -> Int64 {
        while true {
            self.state &+= 0x9E37_79B9_7F4A_7C15
            var mixed = self.state
            mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
            mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
            mixed ^= mixed >> 31
            let epoch = Int64(mixed >> 11)
            if epoch > 0 { return epoch }
        }
    }
}
