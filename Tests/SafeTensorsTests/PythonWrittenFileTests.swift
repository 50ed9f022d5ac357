import Foundation
import XCTest

import SafeTensors

/// Reads a file written by the reference implementation, not by our own test builder.
///
/// Fixtures/python_written.safetensors was made with safetensors 0.8.0 and numpy 2.4 (pip, in a
/// venv) by:
///
///     import numpy as np
///     from safetensors.numpy import save_file
///     save_file({
///         "item_ids": np.array([9000000000001, -7, 42], dtype=np.int64),
///         "item_emb.weight": np.array([[0.5, -1.25], [2.0, 3.5], [-0.125, 1e-3]], dtype=np.float32),
///         "mlp.0.bias": np.array([1.0, -2.0], dtype=np.float32),
///         "temperature": np.array(0.75, dtype=np.float64),
///         "flags": np.array([1, 0, 255], dtype=np.uint8),
///         "empty": np.zeros((0, 2), dtype=np.float32),
///     }, "python_written.safetensors", metadata={"format": "np", "note": "fixture"})
///
/// The package cannot declare resources (Package.swift is shared), so the file is found next to
/// this source file.
final class PythonWrittenFileTests: XCTestCase {
  static let fixturePath = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()
    .appendingPathComponent("Fixtures/python_written.safetensors")
    .path

  func testReadsFileWrittenByPythonSafetensors() throws {
    let file = try SafeTensorsFile(path: Self.fixturePath)

    XCTAssertEqual(file.metadata, ["format": "np", "note": "fixture"])
    // The writer orders by alignment, largest first, then by name.
    XCTAssertEqual(
      file.tensors.map(\.name),
      ["item_ids", "temperature", "empty", "item_emb.weight", "mlp.0.bias", "flags"])

    let ids = try XCTUnwrap(file.tensor(named: "item_ids"))
    XCTAssertEqual(ids.dtype, .int64)
    XCTAssertEqual(ids.shape, [3])
    XCTAssertEqual(Array(ids.int64s), [9_000_000_000_001, -7, 42])

    let embedding = try XCTUnwrap(file.tensor(named: "item_emb.weight"))
    XCTAssertEqual(embedding.dtype, .float32)
    XCTAssertEqual(embedding.shape, [3, 2])
    XCTAssertEqual(Array(embedding.floats), [0.5, -1.25, 2.0, 3.5, -0.125, 1e-3])

    XCTAssertEqual(Array(try XCTUnwrap(file.tensor(named: "mlp.0.bias")).floats), [1, -2])

    let temperature = try XCTUnwrap(file.tensor(named: "temperature"))
    XCTAssertEqual(temperature.shape, [])
    XCTAssertEqual(Array(temperature.doubles), [0.75])

    XCTAssertEqual(Array(try XCTUnwrap(file.tensor(named: "flags")).uint8s), [1, 0, 255])

    let empty = try XCTUnwrap(file.tensor(named: "empty"))
    XCTAssertEqual(empty.shape, [0, 2])
    XCTAssertEqual(empty.elementCount, 0)
  }
}
