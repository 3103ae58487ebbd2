import MeterCore

extension CardLayout {
  /// `vend`'s reading of a card's write-back area (R-V3): the newest slot whose record verifies
  /// with the meter's key and names that meter, or nil if both slots are empty. If no slot
  /// holds a valid record, refuses with the newest slot's reason (another meter's signature
  /// shows as `badSignature`). `blocks` maps logical block numbers to their 16 bytes.
  public func newestWriteBack(
    blocks: [Int: [UInt8]], meter: MeterID, meterKey: RecordVerifyingKey,
    checker: some SignatureChecking = Ed25519Checker()
  ) throws(CardProblem) -> WriteBackRecord? {
    var firstRefusal: CardProblem?
    for (_, header, payload) in slotPayloads(blocks: blocks) {
      do throws(CardProblem) {
        let record = try SignedRecord(decoding: payload)
        let body = try record.verified(as: WriteBackRecord.self, by: meterKey, checker: checker)
        guard body.content.meter == meter else { throw .otherMeter(body.content.meter) }
        guard body.cardGeneration == header.generation else {
          throw .outOfRange(field: "card generation")
        }
        return body
      } catch {
        firstRefusal = firstRefusal ?? error
      }
    }
    if let firstRefusal { throw firstRefusal }
    return nil
  }
}
