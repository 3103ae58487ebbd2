import MeterCore

/// What the meter read from a card for one presentation.
public struct CardReadout: Hashable, Sendable {
  public var header: CardHeader
  public var records: [SignedRecord]
  /// The commit blocks of the write-back slots, to choose where the write-back goes.
  public var commitBlocks: [[UInt8]]
  /// READ commands issued.
  public var blocksRead: Int
}

extension CardLayout {
  /// The meter's reads for one presentation, in order: header and slot commit blocks, then the
  /// issue area's blocks the header names. `read` performs one READ command at a card address
  /// and returns nil if the card has left the field, which refuses the card (R-C6: a card
  /// removed mid-read changes nothing). An async driver performs the same two stages with
  /// `firstReads`, `CardHeader(block:layout:)`, `issueReads` and `decodeIssueArea`.
  public func readForPresentation(
    _ read: (Int) -> [UInt8]?
  ) throws(CardProblem) -> CardReadout {
    var blocksRead = 0
    func readBlock(_ logical: Int) throws(CardProblem) -> [UInt8] {
      blocksRead += 1
      guard let data = read(readAddress(ofLogicalBlock: logical)) else { throw .cardRemoved }
      return data
    }
    var first: [[UInt8]] = []
    for block in firstReads { first.append(try readBlock(block)) }
    let header = try CardHeader(block: first[0], layout: self)
    var issue: [[UInt8]] = []
    for block in issueReads(header) { issue.append(try readBlock(block)) }
    let records = try decodeIssueArea(header, blocks: issue)
    return CardReadout(
      header: header, records: records, commitBlocks: Array(first.dropFirst()),
      blocksRead: blocksRead)
  }
}
