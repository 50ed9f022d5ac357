/// The doubly robust estimator's "simple reward model": the click rate of an item at a position in
/// the logged data, shrunk towards that position's click rate by one pseudo-observation,
///
///     q(item, k) = (clicks(item, k) + mean click rate at k) / (shows(item, k) + 1)
///
/// so an item never shown at k gets the position's rate. Fitted on the slates it evaluates.
public struct RewardModel: Sendable {
  private struct Key: Hashable {
    let item: Int64
    let position: Int
  }

  private var counts: [Key: (clicks: Double, shows: Double)] = [:]
  private var positionRates: [Double] = []

  public init(fitting slates: [LoggedSlate]) {
    var positionClicks: [Double] = []
    var positionShows: [Double] = []
    for slate in slates {
      for position in 0..<slate.positions {
        if positionShows.count <= position {
          positionClicks.append(0)
          positionShows.append(0)
        }
        let reward = slate.reward(at: position)
        positionClicks[position] += reward
        positionShows[position] += 1
        counts[Key(item: slate.shown[position], position: position), default: (0, 0)].clicks += reward
        counts[Key(item: slate.shown[position], position: position), default: (0, 0)].shows += 1
      }
    }
    positionRates = zip(positionClicks, positionShows).map { $1 > 0 ? $0 / $1 : 0 }
  }

  /// The estimated click probability of `item` shown at `position`.
  public func click(item: Int64, position: Int) -> Double {
    let prior = position < positionRates.count ? positionRates[position] : 0
    guard let count = counts[Key(item: item, position: position)] else { return prior }
    return (count.clicks + prior) / (count.shows + 1)
  }
}
