/// A page of the 16x2 display (R-P2, R-P11). The core decides which page shows; the text is
/// rendered from the meter's state by `Meter.displayLines(at:)`.
public enum DisplayPage: Hashable, Sendable {
  /// The default page; "LOW CREDIT" while credit is low (R-P2).
  case remainingCredit
  case totalPurchased
  case purchaseCount
  case lastPurchase
  case cumulativeConsumption
  case activePower
  case voltage
  case current
  case dateTime
  case tariffBand
  case activeAlarms
  /// R-P8: the lockout countdown.
  case overloadLockout
  case message(CardRefusal)
  case inspection
  /// A page of the event log went onto an inspection card (R-C1 paging): "page k of n, tap
  /// again", or "inspection complete" on the last page.
  case inspectionPage(InspectionProgress)
  /// The inspection card left before its page was written completely.
  case inspectionInterrupted
  case settingsApplied
  /// A key card installed a utility key or rotated the meter's own key (R-C2).
  case keyInstalled
  case tamperCleared
  case relayTest

  /// R-P11: shown in order after a valid card.
  public static let inquiry: [DisplayPage] = [
    .totalPurchased, .purchaseCount, .lastPurchase, .cumulativeConsumption, .remainingCredit,
  ]

  /// R-P11: the button steps through these.
  public static let buttonPages: [DisplayPage] =
    inquiry + [.activePower, .voltage, .current, .dateTime, .tariffBand, .activeAlarms]
}

/// Where the page an inspection card took stands in the meter's event log (R-C1): page `page`
/// of `pages`, counted from the newest events, each tap of the card taking the next older page.
public struct InspectionProgress: Hashable, Sendable {
  /// 1 for the newest events.
  public var page: Int
  /// The taps the whole log takes, this one included.
  public var pages: Int

  public init(page: Int, of pages: Int) {
    self.page = page
    self.pages = pages
  }

  /// The last page: the card now holds the oldest events the meter has.
  public var isComplete: Bool { page >= pages }
}

/// Two display lines of at most 16 characters.
public struct DisplayLines: Hashable, Sendable, CustomStringConvertible {
  public var top: String
  public var bottom: String

  public static let width = 16

  public init(_ top: String, _ bottom: String) {
    self.top = top
    self.bottom = bottom
  }

  public var description: String { top + " | " + bottom }
}

/// What the display is doing besides showing the default page.
enum DisplayMode: Sendable {
  case idle
  /// A page held until a time; then the inquiry sequence, or the default page.
  case message(DisplayPage, until: Timestamp, thenInquiry: Bool)
  case inquiry(index: Int, until: Timestamp)
  case button(index: Int, until: Timestamp)
}

extension Meter {
  mutating func show(_ page: DisplayPage, at now: Timestamp, thenInquiry: Bool = false) {
    session.display = .message(
      page, until: now + state.configuration.inquiryPageMilliseconds, thenInquiry: thenInquiry)
  }

  mutating func startInquiry(at now: Timestamp) {
    session.display = .inquiry(index: 0, until: now + state.configuration.inquiryPageMilliseconds)
  }

  mutating func pressButton(at now: Timestamp) {
    let until = now + state.configuration.pageTimeoutMilliseconds
    if case .button(let index, _) = session.display {
      let next = index + 1
      session.display =
        next < DisplayPage.buttonPages.count ? .button(index: next, until: until) : .idle
    } else {
      session.display = .button(index: 0, until: until)
    }
  }

  /// When the page on display next changes by time alone (R-P11's inquiry pages, a message's
  /// hold, the button pages' timeout), or nil while the default page shows: a loop steps the
  /// meter then, so a page lasts its time exactly rather than until the next interval.
  public var nextPageChange: Timestamp? {
    switch session.display {
    case .idle: nil
    case .message(_, let until, _), .inquiry(_, let until), .button(_, let until): until
    }
  }

  /// Advances timed pages to `now` and returns the page to show.
  mutating func page(at now: Timestamp) -> DisplayPage {
    let pageTime = state.configuration.inquiryPageMilliseconds
    while true {
      switch session.display {
      case .idle:
        return state.supply.reasons.contains(.overloadLockout) ? .overloadLockout : .remainingCredit
      case .message(let page, let until, let thenInquiry):
        if now < until { return page }
        session.display = thenInquiry ? .inquiry(index: 0, until: until + pageTime) : .idle
      case .inquiry(let index, let until):
        if now < until { return DisplayPage.inquiry[index] }
        let next = index + 1
        session.display =
          next < DisplayPage.inquiry.count ? .inquiry(index: next, until: until + pageTime) : .idle
      case .button(let index, let until):
        if now < until { return DisplayPage.buttonPages[index] }
        session.display = .idle
      }
    }
  }

  /// The page on display now, as text.
  public func displayLines(at now: Timestamp) -> DisplayLines {
    var meter = self
    return meter.lines(for: meter.page(at: now), at: now)
  }

  /// `page` as text, from the current state.
  public func lines(for page: DisplayPage, at now: Timestamp) -> DisplayLines {
    let ledger = state.ledger
    let configuration = state.configuration
    let energyMode = configuration.creditMode == .energy
    func credit(_ amount: Money) -> String {
      let figure = amount.displayString(width: rightAlignedWidth)
      return energyMode ? figure + " kWh" : figure
    }
    switch page {
    case .remainingCredit:
      return DisplayLines(isLowCredit ? "LOW CREDIT" : "Credit", credit(state.remainingCredit))
    case .totalPurchased:
      return DisplayLines("Total purchased", credit(ledger.totalPurchased))
    case .purchaseCount:
      return DisplayLines("Purchases", rightAligned(String(ledger.purchaseCount)))
    case .lastPurchase:
      return DisplayLines("Last purchase", credit(ledger.lastPurchaseAmount))
    case .cumulativeConsumption:
      var consumed = state.registers.importTotal
      if configuration.billing == .importPlusExport { consumed += state.registers.exportTotal }
      return DisplayLines("Consumption", rightAligned(consumed.kilowattHourString) + " kWh")
    case .activePower:
      let watts = session.lastMeasurement?.activePowerMilliwatts ?? 0
      return DisplayLines("Power", rightAligned(String(watts / 1_000)) + " W")
    case .voltage:
      let millivolts = session.lastMeasurement?.vrmsMillivolts ?? 0
      return DisplayLines(
        "Voltage", rightAligned(FixedPoint.format(millivolts / 100, fractionDigits: 1)) + " V")
    case .current:
      let milliamps = session.lastMeasurement?.irmsAMilliamps ?? 0
      return DisplayLines(
        "Current", rightAligned(FixedPoint.format(milliamps / 10, fractionDigits: 2)) + " A")
    case .dateTime:
      let local = LocalTime(now, utcOffsetMinutes: configuration.utcOffsetMinutes)
      let seconds = Int(local.millisecondOfDay / 1_000)
      return DisplayLines(
        local.date.description,
        twoDigits(seconds / 3_600) + ":" + twoDigits(seconds / 60 % 60) + ":"
          + twoDigits(seconds % 60))
    case .tariffBand:
      let tariff = state.activeTariff
      var band = tariff.highestPricedBand
      if !state.clockInvalid {
        var cache = TariffCache()
        band =
          cache.band(at: now, in: tariff, utcOffsetMinutes: configuration.utcOffsetMinutes).band
      }
      let price = energyMode ? "Energy credit" : tariff.bandPrices[band].exactString + "/kWh"
      return DisplayLines("Tariff band \(band + 1)", price)
    case .activeAlarms:
      return DisplayLines("Alarms", activeAlarmCodes)
    case .overloadLockout:
      let remaining = max(0, (state.supply.lockoutUntil ?? now).milliseconds(since: now))
      let seconds = Int((remaining + 999) / 1_000)
      return DisplayLines(
        "Overload lockout", "Wait " + twoDigits(seconds / 60) + ":" + twoDigits(seconds % 60))
    case .message(let refusal):
      return refusal.message
    case .inspection:
      return DisplayLines("Inspection", "Hold card")
    case .inspectionPage(let progress):
      if progress.isComplete { return DisplayLines("Inspection", "complete") }
      return DisplayLines("Page \(progress.page) of \(progress.pages)", "Tap card again")
    case .inspectionInterrupted:
      return DisplayLines("Card removed", "Tap card again")
    case .settingsApplied:
      return DisplayLines("Settings", "Applied")
    case .keyInstalled:
      return DisplayLines(
        "Key installed", "U v\(state.keys.utilityVersion)  M v\(state.keys.meterVersion)")
    case .tamperCleared:
      return DisplayLines("Tamper cleared", "")
    case .relayTest:
      return DisplayLines("Relay test", "Relay open")
    }
  }

  /// Short codes of what needs attention, to fit one line.
  var activeAlarmCodes: String {
    var codes: [String] = []
    if isLowCredit { codes.append("LOW") }
    if state.remainingCredit <= .zero { codes.append("NOCR") }
    if !state.events.latched.intersection(Anomalies.tamper).isEmpty { codes.append("TAMP") }
    if !state.events.latched.subtracting(Anomalies.tamper).isEmpty { codes.append("THEFT") }
    if state.supply.reasons.contains(.overload) { codes.append("OL") }
    if state.supply.reasons.contains(.overvoltage) { codes.append("OV") }
    if state.clockInvalid { codes.append("CLK") }
    return codes.isEmpty ? "None" : codes.joined(separator: " ")
  }
}

/// Right-aligns a value in the 9-column field used on value lines (room for a unit after it).
func rightAligned(_ text: String) -> String {
  text.count >= rightAlignedWidth
    ? text : String(repeating: " ", count: rightAlignedWidth - text.count) + text
}

/// Figures on the display's second line end in this column.
let rightAlignedWidth = 9
