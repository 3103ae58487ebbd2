import MeterCards
import MeterDrivers

/// A card on a virtual encoder: `CardReader` over a `CardImage`, for `vend demo` and the tests.
/// `writesBeforeRemoval` makes the customer pull the card away after that many block writes
/// (tearing, R-C4): the card keeps what was written until then, and is out of the field.
///
/// It guards the image as the card would (issue #3): a MIFARE Classic sector opens only with
/// the key its trailer holds (the UID is the first 4 bytes of block 0), and the trailer's
/// access bits decide what that key may read and write (NXP MF1S50 Tables 7 and 8); sector
/// trailers are written only through `writeSectorTrailer`. An NTAG215 page from AUTH0 on is
/// writable only after `ntagPasswordAuthentication` with the password of page 133; pages 0-3
/// are not user memory; PWD and PACK read back as zeros.
public final class VirtualCardReader: CardReader {
  public private(set) var image: CardImage?
  private var inField: Bool
  public var writesBeforeRemoval: Int?
  /// PWD_AUTH succeeded in this session (NTAG).
  private var passwordVerified = false

  public init(_ image: CardImage? = nil) {
    self.image = image
    inField = image != nil
  }

  public func insert(_ image: CardImage) {
    self.image = image
    inField = true
    writesBeforeRemoval = nil
    passwordVerified = false
  }

  /// Takes the card off the encoder, as it is now.
  public func remove() -> CardImage? {
    defer {
      image = nil
      inField = false
    }
    return image
  }

  private var unit: Int { image?.technology == .ntag215 ? 4 : 16 }

  public func poll() throws(CardReaderError) -> CardEvent? { nil }

  public func selectedCard() throws(CardReaderError) -> CardIdentity {
    let image = try card()
    switch image.technology {
    case .mifareClassic1K:
      let uid = Array(image.memory[0..<4])
      return CardIdentity(uid: uid, type: .mifareClassic1K, atqa: 0x0004, sak: 0x08)
    case .ntag215:
      let uid = Array(image.memory[0..<3] + image.memory[4..<8])
      return CardIdentity(uid: uid, type: .ntag215, atqa: 0x0044, sak: 0x00)
    }
  }

  public func readBlocks(_ first: Int, count: Int, keys: MifareKeyProvider?) throws(CardReaderError)
    -> [UInt8]
  {
    let image = try card()
    var bytes: [UInt8] = []
    for address in first..<first + count {
      guard let chunk = image.read(address) else { throw .refused("no block \(address)") }
      guard image.technology == .mifareClassic1K else {
        // PWD and PACK read back as zeros.
        let secret = [NTAG215.passwordPage, NTAG215.passwordAcknowledgePage].contains(address)
        bytes += secret ? [0, 0, 0, 0] : chunk.prefix(unit)
        continue
      }
      let (access, slot) = try open(block: address, keys: keys)
      guard address % 4 == 3 else {
        guard access.dataAccess(address % 4).read.contains(slot) else {
          throw .refused("block \(address) is not readable with key \(slot)")
        }
        bytes += chunk
        continue
      }
      // A trailer reads back with key A hidden, and key B only where it is readable.
      let trailer = access.trailerAccess
      var shown = [UInt8](repeating: 0, count: 16)
      if trailer.bitsRead.contains(slot) { shown.replaceSubrange(6..<10, with: chunk[6..<10]) }
      if trailer.keyBRead.contains(slot) { shown.replaceSubrange(10..<16, with: chunk[10..<16]) }
      bytes += shown
    }
    return bytes
  }

  public func writeBlocks(_ first: Int, _ data: [UInt8], keys: MifareKeyProvider?)
    throws(CardReaderError)
  {
    let image = try card()
    for (offset, _) in stride(from: 0, to: data.count, by: unit).enumerated() {
      let address = first + offset
      switch image.technology {
      case .mifareClassic1K:
        guard address != 0, address % 4 != 3 else {
          throw .refused("block \(address) is the manufacturer block or a sector trailer")
        }
      case .ntag215:
        guard address >= NTAG215.firstUserPage else {
          throw .refused("page \(address) is not user memory")
        }
        let auth0 = Int(image.memory[NTAG215.configurationPage0 * NTAG215.pageSize + 3])
        guard address < auth0 || passwordVerified else {
          throw .refused("page \(address) is password-protected (AUTH0 \(auth0))")
        }
      }
    }
    for (offset, start) in stride(from: 0, to: data.count, by: unit).enumerated() {
      let address = first + offset
      if image.technology == .mifareClassic1K {
        let (access, slot) = try open(block: address, keys: keys)
        guard access.dataAccess(address % 4).write.contains(slot) else {
          throw .refused("block \(address) is not writable with key \(slot)")
        }
      }
      try store(
        CardWrite(address: address, data: Array(data[start..<min(data.count, start + unit)])))
    }
  }

  public func openingKey(sector: Int, candidates: [MifareKey]) throws(CardReaderError)
    -> MifareKey?
  {
    let image = try card()
    try checkClassicSector(image, sector)
    let trailer = Array(image.memory[(sector * 64 + 48)..<(sector * 64 + 64)])
    return candidates.first { opens(trailer, with: $0) }
  }

  public func writeSectorTrailer(_ sector: Int, _ trailer: [UInt8], key: MifareKey)
    throws(CardReaderError)
  {
    let image = try card()
    try checkClassicSector(image, sector)
    guard trailer.count == 16 else {
      throw .refused("a sector trailer is 16 bytes, not \(trailer.count)")
    }
    guard MifareSectorAccess(trailer: trailer) != nil else {
      throw .invalidAccessBits(trailer, sector: sector)
    }
    let block = sector * 4 + 3
    let (access, slot) = try open(block: block, keys: { _, _ in key })
    guard access.mayRewriteTrailer(with: slot) else {
      throw .refused("the access bits of sector \(sector) do not let key \(slot) write its trailer")
    }
    try store(CardWrite(address: block, data: trailer))
  }

  public func ntagPasswordAuthentication(_ password: [UInt8]) throws(CardReaderError)
    -> [UInt8]?
  {
    let image = try card()
    guard image.technology == .ntag215 else {
      throw .refused("\(image.technology) has no NTAG password")
    }
    guard password.count == 4 else {
      throw .refused("an NTAG password is 4 bytes, not \(password.count)")
    }
    let stored = NTAG215.passwordPage * NTAG215.pageSize
    passwordVerified = Array(image.memory[stored..<stored + 4]) == password
    guard passwordVerified else { return nil }
    let pack = NTAG215.passwordAcknowledgePage * NTAG215.pageSize
    return Array(image.memory[pack..<pack + 2])
  }

  public func release() throws(CardReaderError) {}

  private func card() throws(CardReaderError) -> CardImage {
    guard inField, let image else { throw .cardLost("no card on the encoder") }
    return image
  }

  private func checkClassicSector(_ image: CardImage, _ sector: Int) throws(CardReaderError) {
    guard image.technology == .mifareClassic1K else {
      throw .refused("\(image.technology) has no MIFARE Classic sectors")
    }
    guard (0..<MifareClassic1K.sectorCount).contains(sector) else {
      throw .refused("sector \(sector) is outside the card")
    }
  }

  private func opens(_ trailer: [UInt8], with key: MifareKey) -> Bool {
    guard let access = MifareSectorAccess(trailer: trailer), access.mayAuthenticate(key.slot)
    else { return false }
    return Array(key.slot == .a ? trailer[0..<6] : trailer[10..<16]) == key.bytes
  }

  /// Authenticates `block`'s sector with the key `keys` gives for it.
  private func open(block: Int, keys: MifareKeyProvider?) throws(CardReaderError) -> (
    MifareSectorAccess, MifareKey.Slot
  ) {
    let image = try card()
    let sector = block / 4
    let trailer = Array(image.memory[(sector * 64 + 48)..<(sector * 64 + 64)])
    guard let keys else { throw .authenticationFailed(block: block) }
    let key = keys(try selectedCard().uid, sector)
    guard opens(trailer, with: key), let access = MifareSectorAccess(trailer: trailer) else {
      throw .authenticationFailed(block: block)
    }
    return (access, key.slot)
  }

  /// One block write, or the customer pulling the card away before it.
  private func store(_ write: CardWrite) throws(CardReaderError) {
    if let left = writesBeforeRemoval {
      guard left > 0 else {
        inField = false
        throw .cardLost("card removed during the write")
      }
      writesBeforeRemoval = left - 1
    }
    guard inField, image != nil else { throw .cardLost("no card on the encoder") }
    guard image!.write(write) else { throw .refused("block \(write.address) cannot be written") }
  }
}
