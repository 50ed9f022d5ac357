import XCTest

import Experiments

/// The guard that runs before Yams composes anything: nesting, aliases, anchors, sizes.
final class YAMLGuardTests: XCTestCase {
  func refusal(_ text: String, limits: YAMLLimits = .standard) -> YAMLGuard.Refusal? {
    do {
      try YAMLGuard.check(text, limits: limits)
      return nil
    } catch {
      return error as? YAMLGuard.Refusal
    }
  }

  func testOrdinaryFilesPass() throws {
    try YAMLGuard.check("experiments: []\n")
    try YAMLGuard.check("")
    try YAMLGuard.check("# only a comment\n")
    try YAMLGuard.check("a: [1, {b: c}]\nd: \"x\"\n")
  }

  func testSyntaxErrorsAreLeftToYams() throws {
    try YAMLGuard.check("a: [1, 2\n")
    try YAMLGuard.check("a: \"open\n")
  }

  func testDeepNestingIsRefusedAtTheLimitWithoutRecursing() {
    XCTAssertNil(refusal(String(repeating: "[", count: 64) + String(repeating: "]", count: 64)))
    let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
    XCTAssertEqual(refusal(deep)?.message.contains("nested more than 64 levels"), true)
    // The crash of issue 13: a stack overflow in Yams' composer. Not even a full parse here.
    let crash = "experiments: " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
    XCTAssertEqual(refusal(crash)?.message.contains("64 levels"), true)
    let blocks = (0..<70).map { String(repeating: "  ", count: $0) + "k\($0):" }.joined(separator: "\n") + " v\n"
    XCTAssertEqual(refusal(blocks)?.line, 65)
  }

  func testAnchorsAndAliasesAreRefusedOutright() {
    let laughs = (["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
      + zip("bcdefghi", "abcdefgh").map { "\($0): &\($0) [" + Array(repeating: "*\($1)", count: 9).joined(separator: ", ") + "]" })
      .joined(separator: "\n")
    let start = Date()
    XCTAssertEqual(refusal(laughs)?.message.contains("anchors (&name) are not allowed"), true)
    XCTAssertLessThan(Date().timeIntervalSince(start), 0.5)
    XCTAssertEqual(refusal("a: &x 1\n")?.line, 1)
    XCTAssertEqual(refusal("a: 1\nb: *x\n")?.message.contains("aliases (*name) are not allowed"), true)
    XCTAssertEqual(refusal("a: !!map &m {b: 1}")?.message.contains("anchors"), true)
  }

  func testSizeScalarAndNodeCaps() {
    let small = YAMLLimits(maxBytes: 100, maxDepth: 8, maxScalarBytes: 10, maxNodes: 5)
    XCTAssertEqual(refusal(String(repeating: "#", count: 101), limits: small)?.message,
                   "the file is 101 bytes, above the limit of 100 bytes")
    XCTAssertEqual(refusal("a: 12345678901", limits: small)?.message.contains("11 bytes is above the limit of 10"), true)
    XCTAssertNil(refusal("[1, 2, 3, 4]", limits: small))
    XCTAssertEqual(refusal("[1, 2, 3, 4, 5]", limits: small)?.message.contains("more than 5 values"), true)
    XCTAssertNil(refusal(String(repeating: "x", count: 4_096)))
    XCTAssertNotNil(refusal(String(repeating: "x", count: 4_097)))
  }

  func testExcerptsCutLongValuesAtACharacterBoundary() {
    XCTAssertEqual(Excerpt.of("short"), "short")
    let long = String(repeating: "é", count: 100)  // 2 bytes each
    XCTAssertEqual(Excerpt.of(long), String(repeating: "é", count: 32) + "… (200 bytes)")
    XCTAssertEqual(Excerpt.of("abcdé", limit: 4), "abcd… (6 bytes)")
    XCTAssertEqual(Excerpt.of("abcdé", limit: 5), "abcd… (6 bytes)")
  }
}
