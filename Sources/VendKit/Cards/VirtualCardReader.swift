import MeterCards
import MeterDrivers

/// A card on a virtual encoder: `CardReader` over a `CardImage`, for `vend demo` and the tests.
/// `writesBeforeRemoval` makes the customer pull the card away after that many block writes
/// (tearing, R-C4): the card keeps what was written until then, and is out of the field.
public final class VirtualCardReader: CardReader {
  public private(set) var image: CardImage?
  private var inField: Bool
  public var writesBeforeRemoval: Int?

  public init(_ image: CardImage? = nil) {
    self.image = image
    inField = image != nil
  }

  public func insert(_ image: CardImage) {
    self.image = image
    inField = true
    writesBeforeRemoval = nil
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

  public func readBlocks(_ first: Int, count: Int, keys: MifareKeyProvider?) throws(CardReaderError)
    -> [UInt8]
  {
    guard inField, let image else { throw .cardLost("no card on the encoder") }
    var bytes: [UInt8] = []
    for address in first..<first + count {
      guard let chunk = image.read(address) else { throw .refused("no block \(address)") }
      bytes += chunk.prefix(unit)
    }
    return bytes
  }

  public func writeBlocks(_ first: Int, _ data: [UInt8], keys: MifareKeyProvider?)
    throws(CardReaderError)
  {
    for (offset, start) in stride(from: 0, to: data.count, by: unit).enumerated() {
      if let left = writesBeforeRemoval {
        guard left > 0 else {
          inField = false
          throw .cardLost("card removed during the write")
        }
        writesBeforeRemoval = left - 1
      }
      let chunk = Array(data[start..<min(data.count, start + unit)])
      guard inField, image != nil else { throw .cardLost("no card on the encoder") }
      guard image!.write(CardWrite(address: first + offset, data: chunk)) else {
        throw .refused("block \(first + offset) cannot be written")
      }
    }
  }

  public func release() throws(CardReaderError) {}
}
