import ArgumentParser
import Foundation
import MeterCards
import MeterCore
import VendKit

@main
struct VendCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "vend",
    abstract: "The electricity sales management system: customers, meters, sales, reports.",
    subcommands: [
      InitCommand.self, OperatorCommand.self, CustomerCommand.self, TariffCommand.self,
      MeterCommand.self, SellCommand.self, RefundCommand.self, CashUpCommand.self,
      ReportCommand.self, SampleCommand.self, BackupCommand.self, ServeCommand.self,
      PasswordCommand.self, KeyCommand.self, DemoCommand.self, BenchmarkCommand.self,
      PollCommand.self, DeliverCommand.self, CardCommand.self,
    ])
}

/// Where the data is and who is working: every command that changes or shows office data.
struct OfficeOptions: ParsableArguments {
  @Option(
    name: .long,
    help: "SQLite file or postgres:// URL (default: $VEND_DATABASE, else vend.sqlite)")
  var database: String?

  @Option(name: .customLong("as"), help: "Operator username doing this (default: $VEND_OPERATOR)")
  var operatorName: String?

  @Option(name: .long, help: "Office time zone as an offset from UTC in minutes, for cash days")
  var utcOffsetMinutes: Int64 = 0

  @Option(
    name: .long,
    help: "The utility's signing key file (default: $VEND_UTILITY_KEY, else vend-utility.key)")
  var utilityKey: String?

  var utilityKeyPath: String {
    utilityKey ?? ProcessInfo.processInfo.environment["VEND_UTILITY_KEY"] ?? "vend-utility.key"
  }

  @Option(
    name: .long,
    help:
      "The card-key master secret file (default: $VEND_CARD_KEYS, else vend-card-keys.key)")
  var cardKeys: String?

  var cardKeysPath: String {
    cardKeys ?? ProcessInfo.processInfo.environment["VEND_CARD_KEYS"] ?? "vend-card-keys.key"
  }

  /// The card-key master secret, or nil when its file does not exist (cards then stay on the
  /// transport key); a file that exists and is wrong is refused.
  func loadCardKeys() throws -> CardKeyDiversifier? {
    guard FileManager.default.fileExists(atPath: cardKeysPath) else { return nil }
    return try CardKeyFile.load(cardKeysPath)
  }

  var storage: StorageConfiguration {
    StorageConfiguration(
      parsing: database ?? ProcessInfo.processInfo.environment["VEND_DATABASE"] ?? "vend.sqlite")
  }

  /// Opens the office, runs `body` as the named operator, and closes the database.
  func run<T>(_ body: (SalesOffice, Operator) async throws -> T) async throws -> T {
    try await open { office in
      guard
        let name = operatorName ?? ProcessInfo.processInfo.environment["VEND_OPERATOR"]
      else {
        throw ValidationError("name the operator with --as USERNAME (or set VEND_OPERATOR)")
      }
      let actor = try await office.operatorNamed(name)
      return try await body(office, actor)
    }
  }

  func open<T>(_ body: (SalesOffice) async throws -> T) async throws -> T {
    let keys = try UtilityKeyFile.loadAll(utilityKeyPath)
    let database = try await VendDatabase.open(storage)
    let office = SalesOffice(
      database: database, utilityKey: keys[0], laterUtilityKeys: Array(keys.dropFirst()),
      calendar: OfficeCalendar(utcOffsetSeconds: utcOffsetMinutes * 60))
    do {
      let result = try await body(office)
      try await database.close()
      return result
    } catch {
      try? await database.close()
      throw error
    }
  }
}

struct InitCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "init",
    abstract: "Create the database, the utility's signing key and the first administrator.")

  @OptionGroup var options: OfficeOptions
  @Option(help: "The administrator's username") var admin: String
  @Option(help: "The administrator's full name") var name: String

  func run() async throws {
    if !FileManager.default.fileExists(atPath: options.utilityKeyPath) {
      let key = try UtilityKeyFile.create(options.utilityKeyPath)
      print("created the utility signing key \(options.utilityKeyPath) (keep it secret)")
      print("utility public key for meters: \(Hex.encode(key.verifyingKey.rawRepresentation))")
    }
    if !FileManager.default.fileExists(atPath: options.cardKeysPath) {
      let cardKeys = try CardKeyFile.create(options.cardKeysPath)
      print(
        "created the card-key master secret \(options.cardKeysPath) (keep it secret; install the"
          + " same file on every meter as [keys] card_key_master)")
      print(
        "card key fingerprint \(cardKeys.fingerprint) (meterctl selftest prints a meter's)")
    }
    let created = try await options.open { office in
      try await office.bootstrapAdministrator(username: admin, displayName: name)
    }
    print("created administrator \(created.username); set a password with vend password")
  }
}

struct KeyCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "key", abstract: "The utility's keys and the meters' keys (R-C2).",
    subcommands: [
      Show.self, Public.self, Rotate.self, Card.self, Confirm.self, MeterAdd.self,
      MeterCard.self, Cards.self,
    ], defaultSubcommand: Show.self)

  struct Cards: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Print the card-key master secret's fingerprint (never the secret), to compare with a meter's `meterctl selftest`."
    )
    @OptionGroup var options: OfficeOptions

    func run() throws {
      guard let cardKeys = try options.loadCardKeys() else {
        throw ValidationError(
          "no card key file at \(options.cardKeysPath): cards stay on the transport key"
            + " (vend init creates one; --card-keys names another)")
      }
      print("card key file \(options.cardKeysPath): fingerprint \(cardKeys.fingerprint)")
    }
  }

  struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Print every version of the utility's public key; new meters get the newest.")
    @OptionGroup var options: OfficeOptions

    func run() throws {
      let keys = try UtilityKeyFile.loadAll(options.utilityKeyPath)
      for key in keys {
        print(
          "version \(key.version)\(key.version == keys.count ? " (newest: new meters)" : ""): "
            + Hex.encode(key.verifyingKey.rawRepresentation))
      }
    }
  }

  struct Public: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Print the utility public key file an installer puts on a meter.",
      discussion:
        "Standard output is the file itself (64 hex digits, for [keys] utility_public_key); the version for [keys] utility_key_version goes to standard error. Default: the newest version, which `vend meter add` commissions new meters on."
    )
    @OptionGroup var options: OfficeOptions
    @Option(help: "The key version (default the newest)") var version: UInt8?

    func run() throws {
      let key = try UtilityKeyFile.publicKey(options.utilityKeyPath, version: version)
      print(Hex.encode(key.rawRepresentation))
      FileHandle.standardError.write(
        Data(
          ("utility key version \(key.version): on the meter, this line in utility_public_key "
            + "and utility_key_version = \(key.version) in meterd.toml\n").utf8))
    }
  }

  struct Rotate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Add the next utility key version to the key file (back the file up again).",
      discussion:
        "Meters keep trusting their version until their key card (vend key card) is accepted and brought back (vend key confirm)."
    )
    @OptionGroup var options: OfficeOptions

    func run() async throws {
      // Only an operator who may manage meters' keys rotates; checked before the file changes.
      try await options.run { office, actor in try actor.require(.manageMeters) }
      let next = try UtilityKeyFile.rotate(options.utilityKeyPath)
      try await options.run { office, actor in
        try await office.recordUtilityKeyRotation(by: actor, version: next.version)
      }
      print(
        "utility key version \(next.version): \(Hex.encode(next.verifyingKey.rawRepresentation))")
      print("issue a key card for each meter: vend key card --meter N")
    }
  }

  struct Card: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "A key card installing the newest utility key in a meter, signed with the key it trusts.")
    @OptionGroup var options: OfficeOptions
    @OptionGroup var output: CardOutput
    @Option var meter: String
    @Option(help: "Days the card may be used") var days: Int64 = 7

    func run() async throws {
      // Checked before anything is signed: a bad --card-uid or key file changes nothing.
      let cardKeys = try output.checked(options)
      let number = try meterID(meter)
      let record = try await options.run { office, actor in
        try await office.utilityKeyCardRecord(by: actor, meter: number, validFor: days * 86_400)
      }
      try await output.emit(
        IssuedCard(kind: .key, meter: number, record: record), cardKeys: cardKeys, options: options)
    }
  }

  struct Confirm: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Read a key card brought back from its meter; if the meter's write-back on it shows it accepted the key, sign its records with that key from now on."
    )
    @OptionGroup var options: OfficeOptions
    @Option(help: "The card's memory as hex, as `vend key card --card-image` wrote it")
    var cardImage: String
    @Option(help: "mifare-classic-1k or ntag215") var cardType: String = "mifare-classic-1k"

    func run() async throws {
      let image = try readCardImage(cardImage, type: cardType)
      let result = try await options.run { office, actor in
        try await CardStation(office: office, cardKeys: options.loadCardKeys()).returnKeyCard(
          VirtualCardReader(image), technology: image.technology, by: actor)
      }
      print("meter \(result.meter) trusts utility key version \(result.utilityKeyVersion)")
      if !result.resigned.isEmpty {
        print(
          "re-signed pending purchase(s) "
            + result.resigned.map(String.init).joined(separator: ", ")
            + ": the customer's card gets them at the next counter visit")
      }
    }
  }

  struct MeterAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "meter-add", abstract: "Register a meter's next own public key.")
    @OptionGroup var options: OfficeOptions
    @Option var meter: String
    @Option(help: "Its key version (2 for the first rotation)") var version: UInt8
    @Option(help: "The meter's Ed25519 public key of that version, 64 hex digits")
    var publicKey: String

    func run() async throws {
      let number = try meterID(meter)
      guard let key = Hex.decode(publicKey) else {
        throw ValidationError("--public-key must be hex digits")
      }
      try await options.run { office, actor in
        try await office.addMeterKey(by: actor, meter: number, version: version, publicKey: key)
      }
      print("meter \(number): key version \(version) registered")
    }
  }

  struct MeterCard: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "meter-card",
      abstract: "A key card telling a meter to sign its write-backs with its own key of a version.")
    @OptionGroup var options: OfficeOptions
    @OptionGroup var output: CardOutput
    @Option var meter: String
    @Option(help: "The meter key version (registered with vend key meter-add)") var version: UInt8
    @Option(help: "Days the card may be used") var days: Int64 = 7

    func run() async throws {
      // Checked before anything is signed: a bad --card-uid or key file changes nothing.
      let cardKeys = try output.checked(options)
      let number = try meterID(meter)
      let record = try await options.run { office, actor in
        try await office.meterKeyCardRecord(
          by: actor, meter: number, version: version, validFor: days * 86_400)
      }
      try await output.emit(
        IssuedCard(kind: .key, meter: number, record: record), cardKeys: cardKeys, options: options)
    }
  }
}

/// Where an issued card goes: the signed record is printed; `--card-image` also writes the
/// whole card (hex of its memory) as the office's encoder would.
struct CardOutput: ParsableArguments {
  @Option(help: "Also write the card's memory as hex to this file") var cardImage: String?
  @Option(help: "mifare-classic-1k or ntag215") var cardType: String = "mifare-classic-1k"
  @Option(help: "The card's UID as hex (4 bytes MIFARE Classic, 7 NTAG): its keys derive from it")
  var cardUID: String?

  /// The card UID, or nil for zeros; refuses one of the wrong length for the card type.
  func uid() throws -> [UInt8]? {
    guard let cardUID else { return nil }
    let technology = try cardTechnology(cardType)
    guard let bytes = Hex.decode(cardUID), bytes.count == (technology == .ntag215 ? 7 : 4) else {
      throw ValidationError("--card-uid must be \(technology == .ntag215 ? 7 : 4) bytes as hex")
    }
    return bytes
  }

  /// Checks the image options and loads the card-key master secret for the image (nil without
  /// `--card-image` or without a card key file), before anything is signed.
  func checked(_ options: OfficeOptions) throws -> CardKeyDiversifier? {
    guard cardImage != nil else { return nil }
    _ = try cardTechnology(cardType)
    _ = try uid()
    return try options.loadCardKeys()
  }

  /// Prints the record and writes the card image; the image gets the per-card keys of
  /// `cardKeys` (issue #3), its personalisation audited as `card.personalise`.
  func emit(_ card: IssuedCard, cardKeys: CardKeyDiversifier?, options: OfficeOptions)
    async throws
  {
    if let sequence = card.sequence { print("command sequence \(sequence)") }
    print("signed \(card.record.kind) record: \(Hex.encode(card.record.encoded))")
    guard let cardImage else { return }
    let technology = try cardTechnology(cardType)
    let uid = try uid()
    let image = try await options.run { office, actor in
      try await office.cardImage(
        by: actor, card, technology: technology, uid: uid, cardKeys: cardKeys)
    }
    print(
      cardKeys.map { "card keys: per card (card key fingerprint \($0.fingerprint))" }
        ?? "card keys: transport (no card key file)")
    guard
      FileManager.default.createFile(
        atPath: cardImage, contents: Data((Hex.encode(image.memory) + "\n").utf8))
    else { throw ValidationError("cannot write \(cardImage)") }
    print("card image written to \(cardImage)")
  }
}

func cardTechnology(_ text: String) throws -> CardTechnology {
  switch text {
  case "mifare-classic-1k": .mifareClassic1K
  case "ntag215": .ntag215
  default: throw ValidationError("--card-type must be mifare-classic-1k or ntag215")
  }
}

func readCardImage(_ path: String, type: String) throws -> CardImage {
  let technology = try cardTechnology(type)
  guard let text = try? String(contentsOfFile: path, encoding: .utf8),
    let bytes = Hex.decode(text.trimmingCharacters(in: .whitespacesAndNewlines)),
    let image = CardImage(technology: technology, memory: bytes)
  else {
    throw ValidationError(
      "\(path) does not hold a \(type) card image (\(CardImage.memorySize(technology)) bytes as hex)"
    )
  }
  return image
}

struct CardCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "card", abstract: "Staff cards for a visit to a meter (R-C1): inspectors.",
    subcommands: [
      ClearTamper.self, RelayTest.self, Inspection.self, InspectionRead.self, Settings.self,
    ])

  struct Settings: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "A settings card changing meterd.toml keys in one meter (admins), with its next command sequence."
    )
    @OptionGroup var options: OfficeOptions
    @OptionGroup var output: CardOutput
    @Option var meter: String
    @Option(name: .customLong("set"), help: "KEY=VALUE, a meterd.toml key (repeat for several)")
    var changes: [String]
    @Option(help: "Days the card may be used") var days: Int64 = 7

    func run() async throws {
      // Checked before anything is signed: a bad --card-uid or key file changes nothing.
      let cardKeys = try output.checked(options)
      let number = try meterID(meter)
      let parsed = try changes.map { text -> SettingsPatch.Change in
        guard let equals = text.firstIndex(of: "=") else {
          throw ValidationError("--set \(text): write KEY=VALUE")
        }
        return SettingsPatch.Change(
          key: String(text[..<equals]), value: String(text[text.index(after: equals)...]))
      }
      let card = try await options.run { office, actor in
        try await office.settingsRecord(
          by: actor, meter: number, changes: parsed, validFor: days * 86_400)
      }
      try await output.emit(card, cardKeys: cardKeys, options: options)
    }
  }

  struct ClearTamper: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "clear-tamper",
      abstract: "A card clearing a meter's latched tamper events (R-T6), good for one use.")
    @OptionGroup var options: OfficeOptions
    @OptionGroup var output: CardOutput
    @Option var meter: String
    @Option(help: "Hours the card may be used") var hours: Int64 = 8

    func run() async throws {
      // Checked before anything is signed: a bad --card-uid or key file changes nothing.
      let cardKeys = try output.checked(options)
      let number = try meterID(meter)
      let card = try await options.run { office, actor in
        try await office.staffCard(by: actor, .clearTamper, meter: number, validFor: hours * 3_600)
      }
      try await output.emit(card, cardKeys: cardKeys, options: options)
    }
  }

  struct RelayTest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "relay-test",
      abstract: "A card opening a meter's relay while it is on the reader, good for one use.")
    @OptionGroup var options: OfficeOptions
    @OptionGroup var output: CardOutput
    @Option var meter: String
    @Option(help: "Seconds the relay may stay open") var holdSeconds: UInt16 = 60
    @Option(help: "Hours the card may be used") var hours: Int64 = 8

    func run() async throws {
      // Checked before anything is signed: a bad --card-uid or key file changes nothing.
      let cardKeys = try output.checked(options)
      let number = try meterID(meter)
      let card = try await options.run { office, actor in
        try await office.staffCard(
          by: actor, .relayTest(holdSeconds: holdSeconds), meter: number,
          validFor: hours * 3_600)
      }
      try await output.emit(card, cardKeys: cardKeys, options: options)
    }
  }

  struct Inspection: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "A card collecting a meter's registers and event log (changes nothing).")
    @OptionGroup var options: OfficeOptions
    @OptionGroup var output: CardOutput
    @Option(help: "The meter (default: any meter)") var meter: String?
    @Option(help: "Hours the card may be used") var hours: Int64 = 8

    func run() async throws {
      // Checked before anything is signed: a bad --card-uid or key file changes nothing.
      let cardKeys = try output.checked(options)
      let number = try meter.map(meterID)
      let card = try await options.run { office, actor in
        try await office.staffCard(by: actor, .inspection, meter: number, validFor: hours * 3_600)
      }
      try await output.emit(card, cardKeys: cardKeys, options: options)
    }
  }
}

extension CardCommand {
  struct InspectionRead: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "inspection-read",
      abstract:
        "Read an inspection card brought back from a meter: verify it with the meter's key, store its registers as a reading, print the registers and event log."
    )
    @OptionGroup var options: OfficeOptions
    @Option(help: "The card's memory as hex, as the card reader dumped it")
    var cardImage: String
    @Option(help: "mifare-classic-1k or ntag215") var cardType: String = "mifare-classic-1k"

    func run() async throws {
      let image = try readCardImage(cardImage, type: cardType)
      let reading = try await options.run { office, actor in
        try await office.readInspectionCard(by: actor, image: image)
      }
      let data = reading.data
      let registers = data.registers
      print("meter \(reading.meter) at \(registers.time), inspector \(data.inspector)")
      print(
        "purchased \(registers.totalPurchased) in \(registers.purchaseCount) purchase(s), last "
          + "applied \(registers.lastAppliedSequence); credit \(registers.remainingCredit); "
          + "charged \(data.totalCharged); debt \(registers.debt)")
      print(
        "import \(registers.importTotal) (bands "
          + registers.importByBand.map { "\($0)" }.joined(separator: ", ")
          + "), export \(registers.exportTotal); relay \(registers.relay)")
      print(
        "event log: \(registers.latestEvents.count) event(s) on the card, "
          + "\(data.eventsOmitted) older one(s) not on it")
      for event in registers.latestEvents {
        print("  \(event.at) \(event.kind) \(event.detail)")
      }
      let log = reading.log
      let held = log.eventsLogged - log.eventsGone
      if log.isComplete || held == 0 {
        print("event log collected: all \(held) event(s) the meter holds")
      } else {
        print(
          "event log collected: \(Int(held) - log.missing.count) of \(held) event(s) the meter "
            + "holds; tap the card at the meter again and read it here for the rest")
      }
    }
  }
}

struct OperatorCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "operator", abstract: "Operators and their roles.",
    subcommands: [Add.self, List.self])

  struct Add: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Add an operator.")
    @OptionGroup var options: OfficeOptions
    @Option(help: "Login name") var username: String
    @Option(help: "Full name") var name: String
    @Option(
      name: .customLong("role"),
      help: "cashier, supervisor, inspector or admin (repeat for several)")
    var roles: [String]

    func run() async throws {
      let parsed = try Set(
        roles.map { text in
          guard let role = Role(rawValue: text) else {
            throw ValidationError(
              "unknown role '\(text)': use cashier, supervisor, inspector, admin")
          }
          return role
        })
      let created = try await options.run { office, actor in
        try await office.addOperator(
          by: actor, username: username, displayName: name, roles: parsed)
      }
      print("added operator \(created.username)")
    }
  }

  struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List operators.")
    @OptionGroup var options: OfficeOptions

    func run() async throws {
      let all = try await options.run { office, actor in try await office.operators(by: actor) }
      for person in all {
        let roles = Role.allCases.filter(person.roles.contains).map(\.rawValue)
        print(
          "\(person.username)\t\(person.displayName)\t\(roles.joined(separator: ","))"
            + (person.active ? "" : "\t(inactive)"))
      }
    }
  }
}

struct CustomerCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "customer", abstract: "Customers.", subcommands: [Add.self, List.self])

  struct Add: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Add a customer.")
    @OptionGroup var options: OfficeOptions
    @Option var name: String
    @Option var address: String
    @Option(help: "Area (district, feeder) for reports and sampling") var area: String
    @Option var phone: String = ""

    func run() async throws {
      let customer = try await options.run { office, actor in
        try await office.addCustomer(
          by: actor, name: name, address: address, area: area, phone: phone)
      }
      print("added customer \(customer.id)")
    }
  }

  struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List or search customers.")
    @OptionGroup var options: OfficeOptions
    @Option(help: "Text to look for in name, address, area or phone") var search: String = ""

    func run() async throws {
      let found = try await options.open { office in
        try await office.customers(matching: search)
      }
      for customer in found {
        print("\(customer.id)\t\(customer.name)\t\(customer.address)\t\(customer.area)")
      }
    }
  }
}

struct TariffCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "tariff", abstract: "Tariffs.", subcommands: [Add.self, Issue.self])

  struct Add: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Add a tariff.")
    @OptionGroup var options: OfficeOptions
    @Option(help: "Code meters refer to, e.g. R1") var code: String
    @Option var name: String
    @Option(help: "Price per kWh at all times, e.g. 0.25") var price: String
    @Option(help: "Standing charge per day") var standingCharge: String = "0"
    @Option(help: "Tariff set number the meter shows (R-P12)") var setID: UInt32 = 1

    func run() async throws {
      var set = TariffSet.flat(price: try money(price, "price"), id: setID)
      set.standingChargePerDay = try money(standingCharge, "standing charge")
      let tariff = Tariff(code: code, name: name, tariffSet: set)
      try await options.run { office, actor in try await office.addTariff(by: actor, tariff) }
      print("added tariff \(code)")
    }
  }

  struct Issue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Print a signed tariff record of a meter's tariff, for a settings card or an online meter.")
    @OptionGroup var options: OfficeOptions
    @Option var meter: String
    @Option(help: "Days the record may be applied") var days: Int64 = 30

    func run() async throws {
      let number = try meterID(meter)
      let record = try await options.run { office, actor in
        try await office.tariffRecord(by: actor, meter: number, validFor: days * 86_400)
      }
      print(Hex.encode(record.encoded))
    }
  }
}

struct MeterCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "meter", abstract: "Meters.",
    subcommands: [Add.self, Show.self, Link.self, EventsReset.self])

  struct EventsReset: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "events-reset",
      abstract:
        "Archive a meter's stored event log after its own log restarted (new journal, replaced meter board), so its inspection pages are accepted again.",
      discussion:
        "The stored events move to an archive (kept, not deleted) with the operator and the reason; the audit log records it. Inspectors and admins."
    )
    @OptionGroup var options: OfficeOptions
    @Argument(help: "Meter number") var id: String
    @Option(help: "Why the log is reset (audited), e.g. \"meter board replaced\"")
    var reason: String

    func run() async throws {
      let number = try meterID(id)
      let archive = try await options.run { office, actor in
        try await office.resetEventLog(by: actor, meter: number, reason: reason)
      }
      print(
        "meter \(number): \(archive.events) stored event(s) archived as archive \(archive.id) "
          + "(\(archive.eventsLogged) logged, \(archive.eventsGone) gone); the next inspection "
          + "card starts a new log")
    }
  }

  struct Add: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Register a meter.")
    @OptionGroup var options: OfficeOptions
    @Option(help: "RegisteredMeter number") var id: String
    @Option(help: "Customer number") var customer: Int64
    @Option(help: "The meter's Ed25519 public key, 64 hex digits") var publicKey: String
    @Option var tariff: String
    @Option(help: "residential, commercial or industrial") var meterClass: String = "residential"
    @Option var location: String
    @Option(help: "Hoarding limit (R-P7)") var hoardingLimit: String = "2000.00"
    @Option(
      help:
        "The utility key version the meter is commissioned on (its [keys] utility_key_version); default the newest"
    )
    var utilityKeyVersion: UInt8?

    func run() async throws {
      guard let key = Hex.decode(publicKey) else {
        throw ValidationError("--public-key must be hex digits")
      }
      guard let parsedClass = MeterClass(rawValue: meterClass) else {
        throw ValidationError("--meter-class must be residential, commercial or industrial")
      }
      let meter = RegisteredMeter(
        id: try meterID(id), customerID: customer, publicKey: key, tariffCode: tariff,
        meterClass: parsedClass, location: location,
        hoardingLimit: try money(hoardingLimit, "hoarding limit"))
      let version = try await options.run { office, actor in
        try await office.addMeter(by: actor, meter, utilityKeyVersion: utilityKeyVersion)
        return try await office.utilityKeyVersion(of: meter.id)
      }
      print("added meter \(meter.id), commissioned on utility key version \(version)")
      print(
        "on the meter: `vend key public --version \(version)` into [keys] utility_public_key, "
          + "and utility_key_version = \(version) in meterd.toml, before its first start")
    }
  }

  struct Link: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Link a meter to its meterd for polling and remote sales (R-V5).",
      discussion:
        "The token is the meter's meterd API token ([keys] api_token); it is stored in the database and never printed."
    )
    @OptionGroup var options: OfficeOptions
    @Option(help: "Meter number") var id: String
    @Option(help: "meterd's API base, e.g. http://10.0.4.17:8080") var url: String
    @Option(help: "A file holding the meter's API token") var tokenFile: String

    func run() async throws {
      let number = try meterID(id)
      guard let data = FileManager.default.contents(atPath: tokenFile) else {
        throw ValidationError("--token-file \(tokenFile) cannot be read")
      }
      let token = String(decoding: data, as: UTF8.self)
      try await options.run { office, actor in
        try await office.linkMeter(by: actor, meter: number, baseURL: url, token: token)
      }
      print("meter \(number) linked to \(url)")
    }
  }

  struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a meter and its sales.")
    @OptionGroup var options: OfficeOptions
    @Argument var id: String

    func run() async throws {
      let number = try meterID(id)
      try await options.open { office in
        let meter = try await office.meter(number)
        print(
          "meter \(meter.id): customer \(meter.customerID), tariff \(meter.tariffCode), "
            + "\(meter.meterClass.rawValue), \(meter.location), "
            + "hoarding limit \(meter.hoardingLimit.displayString), "
            + "trusts utility key version \(try await office.utilityKeyVersion(of: number))")
        if let actor = try? await office.operatorNamed(
          options.operatorName ?? ProcessInfo.processInfo.environment["VEND_OPERATOR"] ?? ""),
          let link = try? await office.meterLinks(by: actor).first(where: { $0.meter == number })
        {
          print("online: meterd at \(link.baseURL), last poll \(pollNote(link))")
        }
        for sale in try await office.sales(forMeter: number) {
          print(
            "  #\(sale.purchase.sequence)\t\(sale.purchase.amount.displayString)\t"
              + "\(sale.status.rawValue)\treceipt \(sale.id)\t\(sale.cashDay)")
        }
      }
    }
  }
}

struct SellCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "sell", abstract: "Sell credit for a meter (R-V2), on a card or remotely (R-V5).")
  @OptionGroup var options: OfficeOptions
  @Option var meter: String
  @Option(help: "Amount, e.g. 50 or 50.00") var amount: String
  @ArgumentParser.Flag(
    help:
      "Deliver the sale to the online meter's meterd now, then poll it for a signed reading that shows it applied (vend meter link first)"
  )
  var remote = false

  func run() async throws {
    let number = try meterID(meter)
    let value = try money(amount, "amount")
    if remote {
      let result = try await options.run { office, actor in
        try await office.sellRemote(by: actor, meter: number, amount: value)
      }
      let sale = result.sale
      print(
        "receipt \(sale.id): meter \(sale.purchase.meter), purchase \(sale.purchase.sequence), "
          + "\(sale.purchase.amount.displayString), sold remotely")
      printDeliveries(result.deliveries)
      if let poll = result.poll { printPoll(number, poll) }
      print("sale status: \(sale.status.rawValue)")
      if let problem = result.problem {
        print(
          "not finished: \(problem)\nthe sale stands, pending: `vend deliver --meter \(number)` "
            + "sends it again (the meter applies it once), or refund receipt \(sale.id)")
        throw ExitCode(2)
      }
      return
    }
    let sale = try await options.run { office, actor in
      try await office.sell(by: actor, meter: number, amount: value)
    }
    print(
      "receipt \(sale.id): meter \(sale.purchase.meter), purchase \(sale.purchase.sequence), "
        + "\(sale.purchase.amount.displayString)")
    print("signed purchase record: \(Hex.encode(sale.record ?? []))")
  }
}

func printDeliveries(_ deliveries: [RemoteDelivery]) {
  for delivery in deliveries {
    print("delivered purchase \(delivery.sequence): the meter answered \(delivery.result)")
  }
}

func printPoll(_ meter: MeterID, _ result: IngestionResult) {
  var line = "meter \(meter): signed reading \(result.stored ? "stored" : "already stored")"
  if !result.newlyApplied.isEmpty {
    line +=
      ", shows purchase(s) \(result.newlyApplied.map(String.init).joined(separator: ", ")) applied"
  }
  line += result.flags.isEmpty ? ", reconciles" : ", \(result.flags.count) flag(s):"
  print(line)
  for flag in result.flags { print("  \(flag.kind.rawValue): \(flag.evidence)") }
}

struct PollCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "poll",
    abstract:
      "Read online meters (R-V5): a reading signed by the meter's key, checked and reconciled like a card's write-back.",
    discussion:
      "Without --meter, polls every linked meter. Exits 1 if any meter gave no reading or a refused one."
  )
  @OptionGroup var options: OfficeOptions
  @Option(help: "Only this meter") var meter: String?

  func run() async throws {
    let only = try meter.map(meterID)
    let outcomes = try await options.run { office, actor -> [PollOutcome] in
      if let only {
        do {
          return [
            PollOutcome(
              meter: only, result: .success(try await office.poll(by: actor, meter: only)))
          ]
        } catch let error as VendError {
          return [PollOutcome(meter: only, result: .failure(error))]
        }
      }
      return try await office.pollAll(by: actor)
    }
    var failed = 0
    for outcome in outcomes {
      switch outcome.result {
      case .success(let result): printPoll(outcome.meter, result)
      case .failure(let error):
        failed += 1
        print("meter \(outcome.meter): refused: \(error)")
      }
    }
    print("\(outcomes.count) meter(s) polled, \(failed) without a good reading")
    if failed > 0 { throw ExitCode(1) }
  }
}

struct DeliverCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "deliver",
    abstract:
      "Send an online meter every purchase sold and not yet applied (R-V5), then poll it. Safe to repeat: the meter applies each purchase once."
  )
  @OptionGroup var options: OfficeOptions
  @Option var meter: String

  func run() async throws {
    let number = try meterID(meter)
    let poll = try await options.run { office, actor -> IngestionResult in
      printDeliveries(try await office.deliverPending(by: actor, meter: number))
      return try await office.poll(by: actor, meter: number)
    }
    printPoll(number, poll)
  }
}

struct RefundCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "refund", abstract: "Refund a sale the meter has not applied (R-V2).")
  @OptionGroup var options: OfficeOptions
  @Option var receipt: Int64
  @Option var reason: String

  func run() async throws {
    let sale = try await options.run { office, actor in
      try await office.refund(by: actor, receipt: receipt, reason: reason)
    }
    print("refunded receipt \(sale.id): \(sale.purchase.amount.displayString)")
  }
}

struct CashUpCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "cashup", abstract: "Takings per operator for a day (R-V2).")
  @OptionGroup var options: OfficeOptions
  @Option(help: "YYYY-MM-DD (default: today)") var day: String?

  func run() async throws {
    let lines = try await options.run { office, actor in
      try await office.cashUp(by: actor, day: day ?? office.calendar.day(of: Date()))
    }
    print("operator\tday\tsales\ttotal\trefunds\trefunded\tnet")
    for line in lines {
      print(
        "\(line.operatorUsername)\t\(line.day)\t\(line.salesCount)\t"
          + "\(line.salesTotal.displayString)\t\(line.refundsCount)\t"
          + "\(line.refundsTotal.displayString)\t\(line.net.displayString)")
    }
  }
}

struct ReportCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "report", abstract: "Reports (R-V6).",
    subcommands: [Sales.self, Bands.self, Debt.self, Events.self, Meters.self, Silent.self])

  /// What every dated report takes, and how it prints.
  struct PeriodOptions: ParsableArguments {
    @OptionGroup var options: OfficeOptions
    @Option(help: "First day, YYYY-MM-DD") var from: String
    @Option(help: "Last day, YYYY-MM-DD") var to: String
    @ArgumentParser.Flag(
      help: "Print CSV (amounts with four decimals) instead of tab-separated columns")
    var csv = false

    func print(_ kind: ReportKind) async throws {
      let table = try await options.run { office, actor in
        try await office.report(
          kind, try ReportPeriod(from: from, to: to, calendar: office.calendar), by: actor)
      }
      if csv {
        Swift.print(table.csv, terminator: "")
      } else {
        Swift.print(table.columns.joined(separator: "\t"))
        for row in table.rows {
          Swift.print(row.map(ReportTable.displayText).joined(separator: "\t"))
        }
      }
    }
  }

  struct Sales: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Sales and refunds per day.")
    @OptionGroup var period: PeriodOptions
    func run() async throws { try await period.print(.sales) }
  }

  struct Bands: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Energy used per tariff band, all meters.")
    @OptionGroup var period: PeriodOptions
    func run() async throws { try await period.print(.bands) }
  }

  struct Debt: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Meters in debt at the end of the period (their last reading before then).")
    @OptionGroup var period: PeriodOptions
    func run() async throws { try await period.print(.debt) }
  }

  struct Events: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Tamper, bypass, imbalance and reverse events counted in the period, per meter.")
    @OptionGroup var period: PeriodOptions
    func run() async throws { try await period.print(.events) }
  }

  struct Meters: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Every meter's latest credit, debt and event counters.")
    @OptionGroup var options: OfficeOptions

    func run() async throws {
      let statuses = try await options.run { office, actor in
        try await office.meterStatuses(by: actor)
      }
      print("meter\tcustomer\tarea\tlast heard\tcredit\tdebt\ttamper\tbypass\timbalance\treverse")
      for status in statuses {
        let events = status.events
        print(
          [
            status.meter.description, status.customerName, status.area,
            status.lastHeard.map { $0.formatted(.iso8601) } ?? "never",
            status.credit?.displayString ?? "-", status.debt?.displayString ?? "-",
            events.map { String($0.tamper) } ?? "-", events.map { String($0.bypass) } ?? "-",
            events.map { String($0.imbalance) } ?? "-", events.map { String($0.reverse) } ?? "-",
          ].joined(separator: "\t"))
      }
    }
  }

  struct Silent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "silent", abstract: "Meters not heard from for some days.")
    @OptionGroup var options: OfficeOptions
    @Option(help: "Days without a reading") var days: Int = 60

    func run() async throws {
      let cutoff = Date().addingTimeInterval(-Double(days) * 86_400)
      let statuses = try await options.run { office, actor in
        try await office.metersNotHeardFrom(by: actor, since: cutoff)
      }
      print("meter\tcustomer\tarea\tlast heard\tfrom\tonline: last poll")
      for status in statuses {
        print(
          [
            status.meter.description, status.customerName, status.area,
            status.lastHeard.map { $0.formatted(.iso8601) } ?? "never",
            status.source?.rawValue ?? "-", pollNote(status.link),
          ].joined(separator: "\t"))
      }
    }
  }
}

struct SampleCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "sample",
    abstract: "The prioritized list of customers to inspect, with reasons (R-V4).")
  @OptionGroup var options: OfficeOptions
  @Option(help: "First month, YYYY-MM") var from: String
  @Option(help: "Last month, YYYY-MM") var to: String
  @Option(name: .customLong("area"), help: "Only this area (repeatable)") var areas: [String] = []
  @Option(name: .customLong("tariff"), help: "Only this tariff (repeatable)")
  var tariffs: [String] = []
  @Option(name: .customLong("class"), help: "Only this meter class (repeatable)")
  var classes: [String] = []
  @Option(help: "Recent months compared with the ones before") var recentMonths: Int = 3
  @Option(help: "Leave out scores below this") var minScore: Int = 1
  @Option(help: "Customers in the sample") var size: Int = 50
  @Option(help: "Percent of the sample drawn at random") var randomPercent: Int = 0
  @Option(help: "Seed of the random draw") var seed: UInt64 = 1
  @Option(help: "Also write the list to this CSV file") var csv: String?

  func run() async throws {
    let parsedClasses = try Set(
      classes.map { text in
        guard let value = MeterClass(rawValue: text) else {
          throw ValidationError("unknown class '\(text)'")
        }
        return value
      })
    let criteria = SamplingCriteria(
      areas: Set(areas), tariffCodes: Set(tariffs), classes: parsedClasses, fromMonth: from,
      toMonth: to, recentMonths: recentMonths, minimumScore: minScore, sampleSize: size,
      randomPercent: randomPercent, seed: seed)
    let list = try await options.run { office, actor in
      try await office.sampleForInspection(by: actor, criteria)
    }
    print("inspection list \(from)...\(to), seed \(seed): \(list.count) customers")
    for (index, candidate) in list.enumerated() {
      let features = candidate.features
      print(
        "\(index + 1). meter \(features.meter), \(features.customerName), \(features.area): "
          + (candidate.randomAudit ? "random audit, " : "") + "score \(candidate.score)")
      for reason in candidate.reasons {
        print("     +\(reason.points) \(reason.signal.rawValue): \(reason.explanation)")
      }
    }
    if let csv {
      try InspectionCSV.render(list).write(toFile: csv, atomically: true, encoding: .utf8)
      print("written to \(csv)")
    }
  }
}

struct BackupCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "backup", abstract: "Copy the SQLite database while the office works (R-V7).")
  @OptionGroup var options: OfficeOptions
  @Argument(help: "The new backup file") var path: String

  func run() async throws {
    try await options.run { office, actor in try await office.backup(by: actor, to: path) }
    print("backed up to \(path)")
  }
}

func money(_ text: String, _ what: String) throws -> Money {
  try Validate.parseMoney(text, field: what)
}

func meterID(_ text: String) throws -> MeterID { try Validate.parseMeterID(text) }

struct ServeCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "serve", abstract: "Serve the web UI and the HTTP API.")
  @OptionGroup var options: OfficeOptions
  @Option(help: "Address to listen on") var host: String = "127.0.0.1"
  @Option(help: "Port to listen on") var port: Int = 8080

  func run() async throws {
    try await options.open { office in
      print("vend serving http://\(host):\(port)/")
      try await VendServer.run(office: office, host: host, port: port)
    }
  }
}

struct PasswordCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "password", abstract: "Set an operator's password (read from standard input).")
  @OptionGroup var options: OfficeOptions
  @Argument(help: "The operator whose password to set") var username: String

  func run() async throws {
    guard let password = readLine(strippingNewline: true) else {
      throw ValidationError("give the password on standard input")
    }
    try await options.run { office, actor in
      try await office.setPassword(by: actor, username: username, password: password)
    }
    print("password set for \(username)")
  }
}

struct DemoCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "demo",
    abstract: "A whole sales office on this machine: SQLite, staff, customers, meters, a year of "
      + "write-backs, and the web UI.")
  @Option(help: "Database file (default: a new one in the temporary folder)") var database: String?
  @Option(help: "Address to listen on") var host: String = "127.0.0.1"
  @Option(help: "Port to listen on") var port: Int = 8080
  @Option(help: "Customers with two years of monthly write-backs") var customers: Int = 300

  func run() async throws {
    let path =
      database
      ?? FileManager.default.temporaryDirectory
      .appendingPathComponent("vend-demo-\(ProcessInfo.processInfo.processIdentifier).sqlite").path
    let db = try await VendDatabase.open(.sqlite(path: path))
    let office = SalesOffice(database: db, utilityKey: RecordSigningKey())
    // A demo card-key master secret, like the demo's utility key: new for each run.
    let cards = DemoCards(
      office: office,
      cardKeys: CardKeyDiversifier(master: (0..<32).map { _ in UInt8.random(in: 0...255) }))
    let staff = try await DemoOffice.populate(office, cards: cards, customers: customers)
    print("vend demo: database \(path)")
    print("open http://\(host):\(port)/ and log in as one of:")
    for (username, password, roles) in staff {
      print("  \(username) / \(password)  (\(roles))")
    }
    print("sell to meters 1, 2, 3 at the counter, then use the card station page")
    try await VendServer.run(office: office, cards: cards, host: host, port: port)
    try await db.close()
  }
}

struct BenchmarkCommand: AsyncParsableCommand {
  /// CPU time this process has used (every thread), so a figure taken on a busy machine can be
  /// told apart from the waiting for a processor that the wall-clock time includes.
  static func processCPUSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
  }

  static let configuration = CommandConfiguration(
    commandName: "benchmark",
    abstract: "Time the inspection list on a generated population (use a release build).",
    shouldDisplay: false)
  @OptionGroup var options: OfficeOptions
  @Option(help: "Customers, each with monthly write-backs") var customers: Int = 100_000
  @Option(help: "Months of write-backs") var months: Int = 24
  @ArgumentParser.Flag(
    help:
      "Time the list on the population an earlier run left in --database (same --customers and --months) instead of loading one"
  )
  var reuse = false

  func run() async throws {
    if !FileManager.default.fileExists(atPath: options.utilityKeyPath) {
      _ = try UtilityKeyFile.create(options.utilityKeyPath)
    }
    try await options.open { office in
      let clock = ContinuousClock()
      let population = SyntheticPopulation(
        customers: customers, months: months, plantedPerKind: max(1, customers / 1_000))
      let inspector: Operator
      if reuse {
        inspector = try await office.operatorNamed("bench.inspector")
      } else {
        let admin = try await office.bootstrapAdministrator(
          username: "bench", displayName: "Bench")
        let loading = try await clock.measure {
          try await population.load(into: office, by: admin)
        }
        print("loaded \(customers) customers × \(months) months of write-backs in \(loading)")
        inspector = try await office.addOperator(
          by: admin, username: "bench.inspector", displayName: "Inspector", roles: [.inspector])
      }
      let criteria = SamplingCriteria(
        fromMonth: population.firstMonth, toMonth: population.lastMonth, sampleSize: 200,
        randomPercent: 10)
      for run in 1...3 {
        var list: [InspectionCandidate] = []
        let cpuBefore = Self.processCPUSeconds()
        let elapsed = try await clock.measure {
          list = try await office.sampleForInspection(by: inspector, criteria)
        }
        let cpu = Self.processCPUSeconds() - cpuBefore
        let planted = population.plan()
        let hits = list.prefix(planted.count).filter { planted[$0.features.meter] != nil }.count
        print(
          "inspection list run \(run): \(elapsed) (CPU \(cpu.formatted(.number.precision(.fractionLength(3)))) s) "
            + "for \(customers) customers; "
            + "top \(min(planted.count, list.count)) hold \(hits) of \(planted.count) planted")
      }
    }
  }
}

/// How the last poll of an online meter went, for the not-heard-from list.
func pollNote(_ link: MeterLinkStatus?) -> String {
  guard let link else { return "not linked" }
  guard let attempt = link.lastAttempt else { return "never polled (\(link.baseURL))" }
  if let error = link.lastError {
    return "failed \(attempt.formatted(.iso8601)): \(error)"
  }
  return "ok \(attempt.formatted(.iso8601))"
}
