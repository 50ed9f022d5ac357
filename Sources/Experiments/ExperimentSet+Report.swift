extension ExperimentSet {
  /// The admin report, per experiment in config order. Reads the counters under the ledger's lock
  /// once per experiment, so each report is consistent within an experiment.
  public func report() -> [ExperimentReport] {
    live.map(report(of:))
  }

  private func report(of live: LiveExperiment) -> ExperimentReport {
    let experiment = live.experiment
    let (counters, shadow) = ledger.counters(live.armSlots + [live.holdoutSlot], fresh: true)
    let holdoutShare = experiment.holdoutPercent / 100
    let armProbabilities =
      live.thompson?.servingProbabilities() ?? experiment.arms.map { $0.weightPercent / 100 }
    let totalImpressions = counters.reduce(0) { $0 + $1.impressions }
    let control = counters[0]

    func row(_ name: String, model: String, weight: Double, holdout: Bool, _ counts: ArmCounters, serving: Double)
      -> ArmReport
    {
      let ctrInterval = Proportions.wilson95(successes: counts.clicks, trials: counts.impressions)
      let cvrInterval = Proportions.wilson95(successes: counts.purchases, trials: counts.impressions)
      let isControl = !holdout && name == experiment.arms[0].name
      // Against the control arm; the control itself gets z 0, p 1.
      func testAgainstControl(_ successes: Int, _ controlSuccesses: Int) -> (z: Double, pValue: Double) {
        isControl
          ? (z: 0, pValue: 1)
          : Proportions.twoProportionZTest(
            successesA: successes, trialsA: counts.impressions, successesB: controlSuccesses,
            trialsB: control.impressions)
      }
      let ctrTest = testAgainstControl(counts.clicks, control.clicks)
      let cvrTest = testAgainstControl(counts.purchases, control.purchases)
      return ArmReport(
        name: name, model: model, weightPercent: weight, holdout: holdout, impressions: counts.impressions,
        clicks: counts.clicks, addToCarts: counts.addToCarts, purchases: counts.purchases, revenue: counts.revenue,
        ctr: rate(counts.clicks, counts.impressions), ctrLow: ctrInterval.low, ctrHigh: ctrInterval.high,
        cvr: rate(counts.purchases, counts.impressions), cvrLow: cvrInterval.low, cvrHigh: cvrInterval.high,
        ctrZ: ctrTest.z, ctrPValue: ctrTest.pValue, cvrZ: cvrTest.z, cvrPValue: cvrTest.pValue,
        trafficShare: rate(counts.impressions, totalImpressions), servingProbability: serving,
        revenuePerImpression: counts.impressions > 0 ? counts.revenue / Double(counts.impressions) : 0)
    }

    var rows = experiment.arms.enumerated().map { index, arm in
      row(
        arm.name, model: arm.model.description, weight: arm.weightPercent, holdout: false, counters[index],
        serving: armProbabilities[index] * (1 - holdoutShare))
    }
    let holdoutCounts = counters[counters.count - 1]
    if experiment.holdoutPercent > 0 || holdoutCounts.impressions > 0 {
      rows.append(
        row(Arm.holdoutName, model: "", weight: 0, holdout: true, holdoutCounts, serving: holdoutShare))
    }
    return ExperimentReport(
      key: experiment.key, salt: experiment.salt, mode: experiment.mode.rawValue, match: experiment.matchDescription,
      holdoutPercent: experiment.holdoutPercent, minSharePercent: experiment.minSharePercent,
      control: experiment.arms[0].name, arms: rows,
      shadow: ShadowReport(
        model: experiment.shadow?.description ?? "", compared: shadow.compared, dropped: shadow.dropped,
        failed: shadow.failed, meanOverlapAtK: rate(shadow.overlapSum, shadow.compared),
        meanRankCorrelation: rate(shadow.rankCorrelationSum, shadow.rankCorrelationCount),
        rankCorrelationCount: shadow.rankCorrelationCount))
  }
}

private func rate(_ part: Int, _ whole: Int) -> Double {
  whole > 0 ? Double(part) / Double(whole) : 0
}

private func rate(_ sum: Double, _ count: Int) -> Double {
  count > 0 ? sum / Double(count) : 0
}
