import MeterDrivers

/// A virtual NTAG215 (NXP NTAG213/215/216 data sheet): 135 pages of 4 bytes, 7-byte UID in
/// pages 0-2 with BCC0 = 88h ⊕ UID0-2 and BCC1 = UID3-6 (§8.5), capability container E1 10 3E 00
/// on page 3, user memory pages 4-129, configuration pages 130-134 (PWD and PACK read as
/// zeros). Commands: GET_VERSION (answer 00 04 04 02 01 00 11 03), READ 30h (4 pages, rolling
/// over from the last page to page 0), WRITE A2h with 4-bit ACK; writes to pages 0-1 are
/// refused with NAK, lock bytes and the capability container are one-time programmable (OR).
/// Password protection (§8.8): PWD_AUTH 1Bh compares the password with page 133 and answers
/// PACK (page 134) or NAK (the card then falls back to IDLE); pages from AUTH0 (page 131 byte 3)
/// on are writable only after it, and readable only after it when PROT (page 132 byte 0 bit 7)
/// is set. A new card has AUTH0 = FFh.
public final class NTAG215Card: VirtualCard {
  public static let pageCount = 135
  public static let version: [UInt8] = [0x00, 0x04, 0x04, 0x02, 0x01, 0x00, 0x11, 0x03]

  public var pages: [[UInt8]]

  public init(uid: [UInt8]) {
    precondition(uid.count == 7, "NTAG215 uses a 7-byte UID")
    var pages = [[UInt8]](repeating: [0, 0, 0, 0], count: NTAG215Card.pageCount)
    pages[0] = [uid[0], uid[1], uid[2], 0x88 ^ uid[0] ^ uid[1] ^ uid[2]]
    pages[1] = Array(uid[3..<7])
    pages[2] = [uid[3] ^ uid[4] ^ uid[5] ^ uid[6], 0x48, 0x00, 0x00]
    pages[3] = [0xE1, 0x10, 0x3E, 0x00]
    pages[130] = [0x00, 0x00, 0x00, 0xBD]
    pages[131] = [0x04, 0x00, 0x00, 0xFF]
    pages[132] = [0x00, 0x05, 0x00, 0x00]
    pages[133] = [0xFF, 0xFF, 0xFF, 0xFF]
    self.pages = pages
    super.init(uid: uid, atqa: 0x0044, sak: 0x00)
  }

  /// The raw image, 540 bytes.
  public var image: [UInt8] {
    get { pages.flatMap { $0 } }
    set {
      precondition(newValue.count == NTAG215Card.pageCount * 4, "an NTAG215 image is 540 bytes")
      pages = (0..<NTAG215Card.pageCount).map { Array(newValue[($0 * 4)..<($0 * 4 + 4)]) }
    }
  }

  private var passwordVerified = false
  private var auth0: Int { Int(pages[131][3]) }

  override func enterField() {
    super.enterField()
    passwordVerified = false
  }

  override func resetSession() { passwordVerified = false }

  override func handleActive(_ frame: [UInt8], encrypted: Bool) -> CardAnswer? {
    guard !encrypted, let payload = checkedPayload(frame) else { return nil }
    switch payload.first {
    case 0x60 where payload.count == 1:
      return .frame(NTAG215Card.version)
    case 0x1B where payload.count == 5:
      guard Array(payload[1..<5]) == pages[133] else {
        fallBack()
        return .nak(0x00)
      }
      passwordVerified = true
      return .frame(Array(pages[134][0..<2]))
    case 0x30 where payload.count == 2:
      let start = Int(payload[1])
      guard start < NTAG215Card.pageCount else { return .nak(0x00) }
      let readProtected = pages[132][0] & 0x80 != 0 && start + 3 >= auth0
      guard !readProtected || passwordVerified else { return .nak(0x00) }
      var data: [UInt8] = []
      for offset in 0..<4 {
        let page = (start + offset) % NTAG215Card.pageCount
        data += page == 133 || page == 134 ? [0, 0, 0, 0] : pages[page]
      }
      completedBlockOperation(write: false)
      return .frame(data)
    case 0xA2 where payload.count == 6:
      let page = Int(payload[1])
      let data = Array(payload[2..<6])
      guard page < auth0 || passwordVerified else { return .nak(0x00) }
      switch page {
      case 2:
        pages[2][2] |= data[2]
        pages[2][3] |= data[3]
      case 3:
        pages[3] = zip(pages[3], data).map { $0 | $1 }
      case 4..<NTAG215Card.pageCount:
        pages[page] = data
      default:
        return .nak(0x00)
      }
      completedBlockOperation(write: true)
      return .ack
    default:
      return .nak(0x00)
    }
  }
}
