import MeterCards
import MeterCore

/// libFuzzer entry point: feeds one input to every decoder that reads card bytes, and checks
/// that whatever decodes re-encodes to the same bytes (each record has one encoding). A trap,
/// a sanitizer report or a failed check is a finding; a `CardProblem` is the expected outcome.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCardDecoders(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = Array(UnsafeBufferPointer(start: data, count: size))
  checkRecord(bytes)
  checkBodies(bytes)
  checkLayouts(bytes)
  return 0
}

func check(_ condition: Bool, _ message: @autoclosure () -> String) {
  if !condition { fatalError("fuzz finding: " + message()) }
}

func checkRecord(_ bytes: [UInt8]) {
  guard let record = try? SignedRecord(decoding: bytes) else { return }
  check(record.encoded == bytes, "record re-encodes differently")
}

func roundTrip<Body: RecordBody>(_ type: Body.Type, _ body: [UInt8]) {
  guard let value = try? Body.decode(body: body) else { return }
  check(value.encodedBody == body, "\(Body.kind) body re-encodes differently")
}

/// The first byte picks a body decoder, so bodies are reached without a valid signature.
func checkBodies(_ bytes: [UInt8]) {
  guard let selector = bytes.first else { return }
  let body = Array(bytes.dropFirst())
  switch selector % 6 {
  case 0: roundTrip(PurchaseRecord.self, body)
  case 1: roundTrip(WriteBackRecord.self, body)
  case 2: roundTrip(ClearTamperRecord.self, body)
  case 3: roundTrip(RelayTestRecord.self, body)
  case 4: roundTrip(InspectionRequestRecord.self, body)
  default: roundTrip(KeyInstallationRecord.self, body)
  }
}

/// The input as a card image (zero-padded or cut to the card's size) read by both layouts, as
/// the meter reads a presentation and as `vend` reads a write-back.
func checkLayouts(_ bytes: [UInt8]) {
  for technology in CardTechnology.allCases {
    let size = CardImage.memorySize(technology)
    let memory =
      Array(bytes.prefix(size)) + [UInt8](repeating: 0, count: max(0, size - bytes.count))
    guard let image = CardImage(technology: technology, memory: memory) else {
      fatalError("image of the card's own size refused")
    }
    let layout = CardLayout.forTechnology(technology)
    if let readout = try? layout.readForPresentation({ image.read($0) }) {
      check(readout.records.count <= CardLayout.maximumIssueRecords, "too many records")
      _ = layout.nextWriteBack(commitBlocks: readout.commitBlocks)
    }
    var blocks: [Int: [UInt8]] = [:]
    for block in layout.slotReads {
      blocks[block] = image.read(logicalBlock: block, layout: layout)
    }
    for found in layout.slotPayloads(blocks: blocks) {
      check(found.payload.count == found.header.length, "slot payload length")
      _ = try? SignedRecord(decoding: found.payload)
    }
  }
}
