/// Why a safetensors file was rejected: which file, which tensor (if one), what is wrong, and
/// what to do about it.
///
/// `code` is a struct of named constants rather than an enum so that new checks can add codes
/// without breaking callers that switch over the existing ones.
public struct SafeTensorsError: Error, CustomStringConvertible, Sendable {
  public struct Code: Hashable, Sendable, CustomStringConvertible {
    public let name: String
    public init(_ name: String) { self.name = name }
    public var description: String { name }

    /// The file could not be opened, inspected or mapped (missing, a directory, permissions).
    public static let cannotOpen = Code("cannotOpen")
    /// Fewer than the 8 bytes that hold the header length.
    public static let fileTooShort = Code("fileTooShort")
    /// The header length field is 0.
    public static let headerLengthZero = Code("headerLengthZero")
    /// The header length field is above `SafeTensorsFile.maximumHeaderByteCount`.
    public static let headerTooLarge = Code("headerTooLarge")
    /// The header length field points past the end of the file.
    public static let headerBeyondFile = Code("headerBeyondFile")
    /// The header bytes are not valid UTF-8.
    public static let headerNotUTF8 = Code("headerNotUTF8")
    /// The header is not parseable JSON.
    public static let headerInvalidJSON = Code("headerInvalidJSON")
    /// The header is JSON but not an object at the top level.
    public static let headerNotObject = Code("headerNotObject")
    /// A tensor entry is not a JSON object.
    public static let entryNotObject = Code("entryNotObject")
    /// A tensor entry lacks `dtype`, `shape` or `data_offsets`.
    public static let missingField = Code("missingField")
    /// A tensor entry's `dtype`, `shape` or `data_offsets` has the wrong JSON type.
    public static let wrongFieldType = Code("wrongFieldType")
    /// The `dtype` string is not one the format defines.
    public static let unknownDType = Code("unknownDType")
    /// The `dtype` is defined by the format but this reader cannot hand it out (sub-byte types).
    public static let unsupportedDType = Code("unsupportedDType")
    /// A shape dimension is negative.
    public static let negativeDimension = Code("negativeDimension")
    /// The product of the shape (or its byte size) does not fit in an `Int`.
    public static let elementCountOverflow = Code("elementCountOverflow")
    /// `data_offsets` has begin > end (or a negative offset).
    public static let invalidOffsets = Code("invalidOffsets")
    /// `end - begin` differs from the element count times the dtype size.
    public static let byteLengthMismatch = Code("byteLengthMismatch")
    /// The tensor's bytes extend past the end of the file.
    public static let dataOutOfBounds = Code("dataOutOfBounds")
    /// Two tensors share bytes.
    public static let overlappingTensors = Code("overlappingTensors")
    /// The tensor's data does not start on a multiple of its element size.
    public static let misalignedData = Code("misalignedData")
    /// `__metadata__` is not an object of strings.
    public static let invalidMetadata = Code("invalidMetadata")
  }

  public let code: Code
  /// The file the error is about, as given to `SafeTensorsFile(path:)`.
  public let path: String
  /// The tensor the error is about, when it is about one.
  public let tensorName: String?
  /// What is wrong and how to fix it, without the file and tensor prefix.
  public let message: String

  public init(_ code: Code, path: String, tensorName: String? = nil, message: String) {
    self.code = code
    self.path = path
    self.tensorName = tensorName
    self.message = message
  }

  public var description: String {
    var text = "safetensors file '\(path)'"
    if let tensorName {
      text += ", tensor '\(tensorName)'"
    }
    return text + ": " + message + " [\(code)]"
  }
}
