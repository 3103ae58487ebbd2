extension Meter {
  /// How a purchase source may restore supply.
  enum Restore {
    /// The customer's card (R-P3, R-P4, R-P5, R-P8, R-P9).
    case card
    /// A remote sale: closes only what the new credit resolves: alarm 2 once credit is above
    /// it, exhausted credit once credit is positive (R-P3, R-P4).
    case byCredit
  }

  /// Handles a presented card; returns whether a write-back is due.
  mutating func present(
    _ card: CardPresentation, at now: Timestamp, supply: inout SupplyControl,
    output: inout MeterOutput
  ) -> Bool {
    switch card {
    case .customer(let meter, let purchases):
      guard meter == state.configuration.meter else {
        refuse(.wrongMeter, at: now, output: &output)
        return false
      }
      output.card = applyPurchases(
        purchases, at: now, restore: .card, supply: &supply, output: &output)
    case .inspection:
      output.card = CardOutcome(refusal: nil, accepted: true)
      show(.inspection, at: now)
    case .settings(let settings, let sequence):
      output.card = applySettings(settings, sequence: sequence, at: now, output: &output)
      if output.card?.accepted != true { return false }
    case .utilityKey(let key):
      // R-C2: no rollback, no re-installation.
      guard key.version > state.keys.utilityVersion else {
        refuse(.retiredKey, at: now, output: &output)
        return false
      }
      record(.utilityKeyInstalled(key, at: now), into: &output)
      output.card = CardOutcome(refusal: nil, accepted: true)
      show(.keyInstalled, at: now)
    case .meterKeyVersion(let version):
      guard version > state.keys.meterVersion else {
        refuse(.retiredKey, at: now, output: &output)
        return false
      }
      record(.meterKeyRotated(version: version, at: now), into: &output)
      output.card = CardOutcome(refusal: nil, accepted: true)
      show(.keyInstalled, at: now)
    case .clearTamper(let sequence):
      guard isNewCommand(sequence) else {
        refuse(.replayed, at: now, output: &output)
        return false
      }
      clearTamper(at: now, supply: &supply, output: &output)
      recordCommand(sequence, at: now, output: &output)
      output.card = CardOutcome(refusal: nil, accepted: true)
      show(.tamperCleared, at: now)
    case .relayTest(let sequence):
      guard isNewCommand(sequence) else {
        refuse(.replayed, at: now, output: &output)
        return false
      }
      recordCommand(sequence, at: now, output: &output)
      session.relayTestCardPresent = true
      supply.reasons.insert(.test)
      output.card = CardOutcome(refusal: nil, accepted: true)
      show(.relayTest, at: now)
    case .refused(let refusal):
      refuse(refusal, at: now, output: &output)
      return false
    }
    return true
  }

  /// R-C6: a utility command (settings, tariff, clear-tamper, relay-test) is applied only if
  /// its command sequence is above the last one applied; nil is a change that did not come
  /// from a signed record.
  func isNewCommand(_ sequence: UInt32?) -> Bool {
    guard let sequence else { return true }
    return sequence > state.lastSettingsSequence
  }

  /// Journals an applied command's sequence, after the entries of its change: a power cut
  /// between the two leaves the card applicable again, which repeats the same change.
  mutating func recordCommand(_ sequence: UInt32?, at now: Timestamp, output: inout MeterOutput) {
    if let sequence { record(.settingsSequence(sequence, at: now), into: &output) }
  }

  /// R-C6: says why on the display and in the journal; nothing else changes.
  mutating func refuse(_ refusal: CardRefusal, at now: Timestamp, output: inout MeterOutput) {
    record(
      .event(MeterEvent(.cardRefused, at: now, detail: UInt16(refusal.rawValue))), into: &output)
    output.card = CardOutcome(refusal: refusal, accepted: false)
    show(.message(refusal), at: now)
  }

  /// Applies the purchases that continue the sequence (R-C3) within the hoarding limit (R-P7),
  /// then restores supply as the source allows.
  mutating func applyPurchases(
    _ purchases: [Purchase], at now: Timestamp, restore: Restore, supply: inout SupplyControl,
    output: inout MeterOutput
  ) -> CardOutcome {
    let configuration = state.configuration
    let sequencing = PurchaseSequencing.sequence(
      purchases, for: configuration.meter, lastApplied: state.ledger.lastAppliedSequence)
    var applied: [Purchase] = []
    var waiting: [Purchase] = []
    var refusal: CardRefusal?
    for purchase in sequencing.toApply {
      // R-P7: refused and left on the card; later ones wait behind it (R-C3).
      if refusal == nil && state.remainingCredit + purchase.amount > configuration.hoardingLimit {
        refusal = .hoardingLimit
      }
      if refusal != nil {
        waiting.append(purchase)
      } else {
        record(.purchase(purchase, at: now), into: &output)
        applied.append(purchase)
      }
    }
    waiting += sequencing.outOfSequence
    if refusal == nil && !sequencing.outOfSequence.isEmpty { refusal = .outOfSequence }
    if let refusal {
      record(
        .event(MeterEvent(.cardRefused, at: now, detail: UInt16(refusal.rawValue))), into: &output)
    }

    let credit = state.remainingCredit
    if credit > configuration.alarm2 && !applied.isEmpty { supply.reasons.remove(.alarm2) }
    if credit > .zero {
      supply.reasons.subtract([.creditExhausted, .overdraftExhausted])
      supply.overdraft = .available
    }
    var lockedOut = false
    if restore == .card {
      supply.reasons.remove(.alarm2)
      if credit <= .zero {
        if isFriendly(at: now) {
          supply.reasons.subtract([.creditExhausted, .overdraftExhausted])
        } else if supply.reasons.contains(.creditExhausted) && supply.overdraft == .available
          && credit > -configuration.overdraftLimit
        {
          // R-P5: closes once into overdraft.
          supply.reasons.remove(.creditExhausted)
          supply.overdraft = .granted
        }
      }
      lockedOut = supply.reasons.contains(.overloadLockout)
      if !lockedOut { supply.reasons.remove(.overload) }
      supply.reasons.remove(.overvoltage)
      session.overvoltageMilliseconds = 0
      session.normalVoltageMilliseconds = 0
    }

    if lockedOut {
      // R-P8: the countdown says why the card did not close the relay.
      show(.overloadLockout, at: now)
    } else if let refusal {
      show(.message(refusal), at: now, thenInquiry: true)
    } else {
      startInquiry(at: now)
    }
    return CardOutcome(
      refusal: refusal, accepted: true, applied: applied,
      alreadyApplied: sequencing.alreadyApplied, waiting: waiting)
  }

  /// Validates and installs a settings record; an invalid one changes nothing, and so does one
  /// whose command sequence is not newer than the last applied (a replay, R-C6).
  mutating func applySettings(
    _ settings: SettingsRecord, sequence: UInt32? = nil, at now: Timestamp,
    output: inout MeterOutput
  ) -> CardOutcome {
    if !isNewCommand(sequence) {
      refuse(.replayed, at: now, output: &output)
      return CardOutcome(refusal: .replayed, accepted: false)
    }
    do throws(ConfigurationError) {
      switch settings {
      case .configuration(let configuration):
        guard configuration.meter == state.configuration.meter else {
          refuse(.wrongMeter, at: now, output: &output)
          return CardOutcome(refusal: .wrongMeter, accepted: false)
        }
        record(.configuration(try configuration.validated(), at: now), into: &output)
      case .patch(let patch):
        record(.configuration(try patch.applied(to: state.configuration), at: now), into: &output)
      case .tariff(let tariff):
        try tariff.validate()
        record(.tariffInstalled(tariff, at: now), into: &output)
      }
    } catch {
      refuse(.invalidSettings, at: now, output: &output)
      return CardOutcome(refusal: .invalidSettings, accepted: false, settingsError: error)
    }
    recordCommand(sequence, at: now, output: &output)
    show(.settingsApplied, at: now)
    return CardOutcome(refusal: nil, accepted: true)
  }
}
