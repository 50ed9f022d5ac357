/// The Lua scripts the state runs with EVALSHA: each is atomic in Redis, which is what makes
/// "counted once fleet-wide" hold when two replicas get the same event at the same moment.
enum RedisScripts {
  /// Counts one feedback event once. KEYS[1]: the request's feedback hash; KEYS[2]: the
  /// experiment run's counters. ARGV: event field ("item:kind"), the response's flag field
  /// ("clicked", ...), counter field ("arm:clicks", "" when the response does not count),
  /// revenue field ("" for none), revenue in micro-units, TTL in ms. Returns 1 when new, 0 when
  /// the (request, item, kind) was seen before.
  static let feedback = """
    if redis.call('HSETNX', KEYS[1], ARGV[1], '1') == 0 then return 0 end
    redis.call('PEXPIRE', KEYS[1], ARGV[6])
    if ARGV[3] ~= '' then
      if redis.call('HSETNX', KEYS[1], ARGV[2], '1') == 1 then redis.call('HINCRBY', KEYS[2], ARGV[3], 1) end
      if ARGV[4] ~= '' then redis.call('HINCRBY', KEYS[2], ARGV[4], ARGV[5]) end
    end
    return 1
    """

  /// Applies one batch of impression deltas exactly once: KEYS[1] marks the batch (replica id +
  /// sequence number), so a batch resent after a lost reply adds nothing. ARGV[1]: the marker's
  /// TTL in ms; then (counters key, field, delta) triples.
  static let impressions = """
    if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 0 end
    for i = 2, #ARGV, 3 do redis.call('HINCRBY', ARGV[i], ARGV[i + 1], ARGV[i + 2]) end
    return 1
    """
}
