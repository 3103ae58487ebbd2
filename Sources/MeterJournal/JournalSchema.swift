/// What a journal stores and how: the state it checkpoints, the entries that change it, the
/// events it keeps in its bounded log, and the versioned binary encodings of all three.
///
/// The meter's schema is `MeterSchema` (MeterCore's state and entries); tests add small ones.
/// A schema must decode every version it ever wrote (R-D3: a newer firmware reads an older
/// journal) and must refuse malformed bytes with an error, never a trap.
public protocol JournalSchema {
  associatedtype State: Equatable & Sendable
  associatedtype Entry: Sendable
  associatedtype Event: Equatable & Sendable

  /// The version new checkpoints and records are written in. Decoders get the version the
  /// bytes were written in, from 1 up to this.
  static var version: UInt16 { get }

  static func encode(_ state: State, into writer: inout ByteWriter)
  static func decodeState(from reader: inout ByteReader, version: UInt16)
    throws(ByteDecodingError) -> State

  /// Encodes `entry` as the change it makes to `state`, the state just before it, so the
  /// frequent records can be deltas against what the journal already holds.
  static func encode(_ entry: Entry, after state: State, into writer: inout ByteWriter)
  static func decodeEntry(from reader: inout ByteReader, after state: State, version: UInt16)
    throws(ByteDecodingError) -> Entry

  /// The state change an entry makes: the same code the meter runs live, so replay after a
  /// power cut reaches the state the meter had (R-D2).
  static func apply(_ entry: Entry, to state: inout State)

  /// The line an entry adds to the bounded event log, if it is an event.
  static func loggedEvent(for entry: Entry) -> Event?
  /// At most `JournalLayout.eventPayloadSize` bytes.
  static func encode(_ event: Event, into writer: inout ByteWriter)
  static func decodeEvent(from reader: inout ByteReader, version: UInt16)
    throws(ByteDecodingError) -> Event
}
