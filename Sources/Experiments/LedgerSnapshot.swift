import Foundation

/// The ledger as a file (`experiment_state: file:PATH`): every run's counters and the feedback
/// window, so that one instance's restart keeps its results and can still join feedback for what
/// it served before. JSON, versioned; written by the sidecar periodically and at shutdown.
public struct LedgerSnapshot: Codable, Sendable, Equatable {
  public static let currentVersion = 1

  public struct Arm: Codable, Sendable, Equatable {
    var name: String
    var impressions: Int
    var clicks: Int
    var addToCarts: Int
    var purchases: Int
    var revenue: Double
  }

  public struct Run: Codable, Sendable, Equatable {
    var key: String
    var salt: String
    var arms: [Arm]
    var shadowCompared: Int
    var shadowDropped: Int
    var shadowFailed: Int
    var shadowOverlapSum: Double
    var shadowRankCorrelationSum: Double
    var shadowRankCorrelationCount: Int
  }

  public struct Response: Codable, Sendable, Equatable {
    public var requestID: String
    var experiment: String
    /// The run whose counters its feedback increments; nil when it does not count.
    var salt: String?
    var arm: String
    var itemIDs: [Int64]
    var clicked: Bool
    var addedToCart: Bool
    var purchased: Bool
    /// (item, kind) pairs already counted.
    var seenItems: [Int64]
    var seenKinds: [String]
  }

  public var version = currentVersion
  public var runs: [Run] = []
  /// Oldest first.
  public var window: [Response] = []
  public var unjoined = 0

  public struct Invalid: Error, CustomStringConvertible {
    public let description: String
  }
}

extension ExperimentLedger {
  /// A consistent copy of the counters and the window. The window is copied under the lock in O(1)
  /// (copy on write) and converted after it is released.
  public func snapshot() -> LedgerSnapshot {
    let (window, runs, unjoined) = withLockedState { window, tallies, unjoined in
      (window, tallies.values.map { tally in
        LedgerSnapshot.Run(
          key: tally.key, salt: tally.salt,
          arms: zip(tally.names, tally.arms).map { name, counts in
            LedgerSnapshot.Arm(name: name, impressions: counts.impressions, clicks: counts.clicks,
                               addToCarts: counts.addToCarts, purchases: counts.purchases, revenue: counts.revenue)
          },
          shadowCompared: tally.shadow.compared, shadowDropped: tally.shadow.dropped, shadowFailed: tally.shadow.failed,
          shadowOverlapSum: tally.shadow.overlapSum, shadowRankCorrelationSum: tally.shadow.rankCorrelationSum,
          shadowRankCorrelationCount: tally.shadow.rankCorrelationCount)
      }, unjoined)
    }
    var snapshot = LedgerSnapshot()
    snapshot.runs = runs.sorted { ($0.key, $0.salt) < ($1.key, $1.salt) }
    snapshot.unjoined = unjoined
    snapshot.window = window.oldestFirst.map { exposure in
      LedgerSnapshot.Response(
        requestID: exposure.requestID, experiment: exposure.experiment, salt: exposure.slot?.tally.salt,
        arm: exposure.arm, itemIDs: exposure.itemIDs, clicked: exposure.clicked, addedToCart: exposure.addedToCart,
        purchased: exposure.purchased, seenItems: exposure.seen.map(\.itemID), seenKinds: exposure.seen.map(\.kind.rawValue))
    }
    return snapshot
  }

  /// Adds a snapshot's counters to this ledger's and replays its window (the newest responses
  /// kept when the window is smaller now). For a ledger that has served nothing yet.
  public func restore(_ snapshot: LedgerSnapshot) throws {
    guard snapshot.version == LedgerSnapshot.currentVersion else {
      throw LedgerSnapshot.Invalid(description: "snapshot version \(snapshot.version); this build reads version "
        + "\(LedgerSnapshot.currentVersion)")
    }
    withLockedTallies { tally, window, unjoined in
      for run in snapshot.runs {
        let counters = tally(run.key, run.salt)
        for arm in run.arms {
          let slot = counters.slot(named: arm.name)
          counters.arms[slot].impressions += arm.impressions
          counters.arms[slot].clicks += arm.clicks
          counters.arms[slot].addToCarts += arm.addToCarts
          counters.arms[slot].purchases += arm.purchases
          counters.arms[slot].revenue += arm.revenue
        }
        counters.shadow.compared += run.shadowCompared
        counters.shadow.dropped += run.shadowDropped
        counters.shadow.failed += run.shadowFailed
        counters.shadow.overlapSum += run.shadowOverlapSum
        counters.shadow.rankCorrelationSum += run.shadowRankCorrelationSum
        counters.shadow.rankCorrelationCount += run.shadowRankCorrelationCount
      }
      unjoined += snapshot.unjoined
      for response in snapshot.window.suffix(windowCapacity) {
        let slot = response.salt.map { salt -> TallySlot in
          let counters = tally(response.experiment, salt)
          return TallySlot(tally: counters, arm: counters.slot(named: response.arm))
        }
        var exposure = ExposureWindow.Exposure(
          requestID: response.requestID, experiment: response.experiment, arm: response.arm, slot: slot,
          itemIDs: response.itemIDs)
        exposure.clicked = response.clicked
        exposure.addedToCart = response.addedToCart
        exposure.purchased = response.purchased
        exposure.seen = zip(response.seenItems, response.seenKinds).compactMap { item, kind in
          FeedbackKind(rawValue: kind).map { ExposureWindow.SeenFeedback(itemID: item, kind: $0) }
        }
        _ = window.insert(exposure)
      }
    }
  }
}
