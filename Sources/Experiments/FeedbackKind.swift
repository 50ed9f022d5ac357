/// What a user did with a recommended item.
public enum FeedbackKind: String, Sendable, Equatable, CaseIterable {
  case click
  case addToCart
  case purchase
}
