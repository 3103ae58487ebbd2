import CLibFuzzer
import MeterCards
import MeterCore

/// One fuzz input: fed to every decoder that reads card bytes, checking that whatever decodes
/// re-encodes to the same bytes (each record has one encoding). A trap, a sanitizer report or a
/// failed check is a finding; a `CardProblem` is the expected outcome.
func fuzzCardDecoders(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  guard let data, size > 0 else { return 0 }
  // The first byte picks one decoder, the rest is its input: bodies are reached without a
  // valid signature, and each input costs one decoder's work.
  let input = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
  switch data[0] % 14 {
  case 0: roundTrip(PurchaseRecord.self, input)
  case 1: roundTrip(WriteBackRecord.self, input)
  case 2: roundTrip(ClearTamperRecord.self, input)
  case 3: roundTrip(RelayTestRecord.self, input)
  case 4: roundTrip(InspectionRequestRecord.self, input)
  case 5: roundTrip(KeyInstallationRecord.self, input)
  case 6: roundTrip(SettingsRecordBody.self, input)
  case 7: roundTrip(TariffSetRecord.self, input)
  case 8: checkRecord(input)
  case 9: checkLayout(input, .mifareClassic1K)
  case 10: checkLayout(input, .ntag215)
  case 11: roundTripInspectionData(input)
  case 12: roundTrip(MeterKeyRotationRecord.self, input)
  default: roundTrip(PurchaseCancellationRecord.self, input)
  }
  return 0
}

/// The meter the seed corpus's cards name (`writeSeeds`).
let fuzzSeedMeter = MeterID(4_711_000_123)

let fuzzMeterKey = RecordSigningKey(seed: [UInt8](repeating: 0x22, count: 32))!.verifyingKey

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

/// Inspection data has two versions: a version-1 body (it ends after the omitted count) decodes
/// with no newer and no gone events and re-encodes as version 2, the same bytes followed by the
/// version byte and two zero counts; a version-2 body re-encodes to itself.
func roundTripInspectionData(_ body: [UInt8]) {
  guard let value = try? InspectionDataRecord.decode(body: body) else { return }
  let encoded = value.encodedBody
  if encoded == body { return }
  check(
    value.data.eventsNewer == 0 && value.data.eventsGone == 0
      && encoded == body + [InspectionDataRecord.pageVersion, 0, 0],
    "inspection data body re-encodes differently")
}

/// The input as a card image (zero-padded or cut to the card's size) read by the layout, as
/// the meter reads a presentation and as `vend` reads a write-back.
func checkLayout(_ bytes: [UInt8], _ technology: CardTechnology) {
  let size = CardImage.memorySize(technology)
  let memory = Array(bytes.prefix(size)) + [UInt8](repeating: 0, count: max(0, size - bytes.count))
  guard let image = CardImage(technology: technology, memory: memory) else {
    fatalError("image of the card's own size refused")
  }
  let layout = CardLayout.forTechnology(technology)
  if let readout = try? layout.readForPresentation({ image.read($0) }) {
    check(readout.records.count <= CardLayout.maximumIssueRecords, "too many records")
    _ = layout.nextWriteBack(commitBlocks: readout.commitBlocks)
  }
  var blocks: [Int: [UInt8]] = [:]
  for block in layout.slotReads { blocks[block] = image.read(logicalBlock: block, layout: layout) }
  for found in layout.slotPayloads(blocks: blocks) {
    check(found.payload.count == found.header.length, "slot payload length")
    _ = try? SignedRecord(decoding: found.payload)
  }
  // The meter's own read of the page already on an inspection card (unverified: it only
  // chooses which page of the meter's log goes next), and the page it would write next.
  if let page = layout.readInspectionPage(meter: fuzzSeedMeter, { image.read($0) }) {
    check(page.eventsGone <= page.eventsOmitted, "page with more events gone than omitted")
    let olderThan = MeterCardReading.nextInspectionPage(
      previous: page, meter: fuzzSeedMeter, eventsGone: page.eventsGone)
    if let progress = try? MeterCardReading.inspectionProgress(
      page, layout: layout, olderThan: olderThan)
    {
      check(progress.page >= 1 && progress.page <= progress.pages, "page number out of range")
    }
  }
  // An inspection card's area, as `vend` reads it; no input is signed by this key.
  let inspection = try? layout.inspectionData(
    blocks: blocks, meter: MeterID(1), meterKey: fuzzMeterKey)
  check(inspection == nil, "unsigned inspection data accepted")
}
