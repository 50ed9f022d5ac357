import Sidecar
import XCTest

/// Each whole-number setting has one range, enforced the same on the file and on flags (a flag
/// lands in SidecarConfig and meets `validate()`).
final class SidecarConfigKeysTests: XCTestCase {
  func testEveryIntegerKeyRefusesJustOutsideItsRangeFromTheFileAndFromAFlag() throws {
    XCTAssertEqual(Set(SidecarConfig.integerKeys.map(\.yaml)).count, SidecarConfig.integerKeys.count, "declared once")
    for key in SidecarConfig.integerKeys {
      let defaults = SidecarConfig()
      XCTAssertNoThrow(try defaults.validate(), "the default of \(key.yaml) is in range")
      var outside = [key.range.lowerBound - 1]
      if key.range.upperBound < Int.max { outside.append(key.range.upperBound + 1) }
      for value in outside {
        XCTAssertThrowsError(try SidecarConfig(yaml: "\(key.yaml): \(value)\n", source: "test.yaml"), key.yaml) { error in
          XCTAssertTrue("\(error)".contains(key.yaml) && "\(error)".contains("\(key.range.lowerBound)"), "\(error)")
        }
        let fromFlag = try SidecarConfig(yaml: "\(key.yaml): \(key.range.lowerBound)\n", source: "test.yaml")
        var settings = fromFlag
        settings[keyPath: key.path] = value
        XCTAssertThrowsError(try settings.validate(), "\(key.flag) \(value)") { error in
          XCTAssertTrue("\(error)".contains(key.flag) && "\(error)".contains(key.expected), "\(error)")
        }
      }
    }
  }

  func testExposureLogKeepFlagHasTheFilesLimit() {
    var settings = SidecarConfig()
    settings.exposureLogKeep = 5_000
    XCTAssertThrowsError(try settings.validate()) { error in
      XCTAssertEqual("\(error)", "exposure_log_keep (--exposure-log-keep) is 5000; it must be a whole number from 1 to 1000")
    }
  }
}
