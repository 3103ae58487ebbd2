import Logging
import MeterCore
import MeterDrivers
import ServiceLifecycle

/// The meter's control loop in real time, as a `Service`: steps the runtime whenever it is
/// due, pings the systemd watchdog once per pass (so a hung loop is restarted, R-D2 recovers
/// it), and stops at graceful shutdown (SIGTERM) after a last step, so the journal holds
/// everything the meter decided and the relay stays where the core put it.
public struct ControlLoopService: Service {
  let host: MeterHost
  let notifier: SystemdNotifier
  let logger: Logger
  /// The longest sleep between passes, so the watchdog is pinged well within `WatchdogSec=`.
  let longestSleepMilliseconds: Int64 = 1_000

  public init(host: MeterHost, notifier: SystemdNotifier, logger: Logger) {
    self.host = host
    self.notifier = notifier
    self.logger = logger
  }

  public func run() async throws {
    do {
      try notifier.notify(.ready, .status("metering meter \(host.meterID)"))
    } catch {
      logger.warning("systemd notification failed: \(error)")
    }
    // On hardware the energy IC's IRQ edges step the loop at once (R-P8, R-P9): the host is an
    // actor, so these steps and the timed ones take turns.
    let interrupts = await host.interruptEdges().map { edges in
      Task { [host, logger] in
        do {
          for try await edge in edges where edge.kind == .falling {
            do { try await host.step() } catch {
              logger.error("interrupt step stopped: \(error)")
            }
          }
        } catch {
          logger.error("ADE7953 IRQ edges stopped: \(error)")
        }
      }
    }
    defer { interrupts?.cancel() }
    while !Task.isShuttingDownGracefully && !Task.isCancelled {
      do {
        try await host.step()
      } catch {
        logger.error("control loop step stopped: \(error)")
      }
      _ = try? notifier.notify(.watchdog)
      let wait = min(max(await host.millisecondsUntilNextWake(), 1), longestSleepMilliseconds)
      do {
        try await cancelWhenGracefulShutdown {
          try await Task.sleep(for: .milliseconds(wait))
        }
      } catch {
        break
      }
    }
    _ = try? notifier.notify(.stopping)
    do {
      try await host.step()
    } catch {
      logger.error("last step before shutdown stopped: \(error)")
    }
    do {
      try await host.checkpointForShutdown()
    } catch {
      logger.error("shutdown checkpoint failed (start-up will replay the journal): \(error)")
    }
    logger.info("control loop stopped; the journal holds the meter's last decisions")
  }
}
