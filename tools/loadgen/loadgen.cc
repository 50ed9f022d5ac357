// loadgen: a gRPC load generator for recsys.v1.Recommender/Recommend on grpc++'s async client
// (one completion queue, one thread: the client's own cost is the same for every server).
//
//   loadgen --target 127.0.0.1:50051 --requests reqs.jsonl --mode closed --concurrency 8 --duration 5
//   loadgen --target 127.0.0.1:50051 --requests reqs.jsonl --mode open --rate 2000 --duration 5
//   loadgen --target 127.0.0.1:50051 --requests reqs.jsonl --check 3      (print 3 replies as JSON)
//
// The request file has one RecommendRequest per line in proto3 JSON; requests are serialized once
// at start and sent round-robin (generic stub, raw bytes: no per-call client serialization).
//
// closed: N calls in flight; each completion starts the next call; latency = completion - send.
// open:   a fixed schedule of send times (uniform, or --poisson); latency = completion - *intended*
//         send time, so a server (or client) that falls behind is charged for the wait: coordinated
//         omission is counted. At most --max-in-flight calls are outstanding; later ones wait in the
//         schedule (and are charged). Calls scheduled in the window but not sent by the end of the
//         drain are counted as errors ("unsent").
// Only calls scheduled (open) or started (closed) within [warmup, warmup + duration) are measured;
// they are all waited for. The report is one JSON object: qps (successful measured calls / duration),
// latency percentiles (p50, p90, p99, p99.9, max; histogram.h), errors by status code.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <google/protobuf/util/json_util.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "histogram.h"
#include "recsys/v1/recommender.pb.h"

namespace {

using Clock = std::chrono::steady_clock;
const char *const kMethod = "/recsys.v1.Recommender/Recommend";

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

gpr_timespec TimespecOf(int64_t steady_ns) {
  // grpc deadlines take a system_clock-based or monotonic gpr_timespec; use monotonic.
  gpr_timespec now = gpr_now(GPR_CLOCK_MONOTONIC);
  int64_t delta = steady_ns - NowNs();
  return gpr_time_add(now, gpr_time_from_nanos(delta, GPR_TIMESPAN));
}

struct Options {
  std::string target = "127.0.0.1:50051";
  std::string requests;
  std::string model;  // overrides every request's `model` when set
  std::string mode = "closed";
  std::string out;
  int concurrency = 8;
  double rate = 1000;
  double duration = 5;
  double warmup = 1;
  double drain = 2;
  int deadline_ms = 1000;
  int max_in_flight = 4096;
  int channels = 2;
  int check = 0;
  bool poisson = false;
  uint64_t seed = 1;
};

[[noreturn]] void Usage(const char *message) {
  std::fprintf(stderr,
               "loadgen: %s\nusage: loadgen --target HOST:PORT --requests FILE.jsonl [--model NAME]\n"
               "  [--mode closed --concurrency N | --mode open --rate QPS [--poisson] [--max-in-flight N]]\n"
               "  [--duration S] [--warmup S] [--drain S] [--deadline-ms MS] [--channels N] [--out FILE]\n"
               "  [--check N]\n",
               message);
  std::exit(2);
}

Options Parse(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Usage(("missing value for " + flag).c_str());
      return argv[++i];
    };
    if (flag == "--target") o.target = value();
    else if (flag == "--requests") o.requests = value();
    else if (flag == "--model") o.model = value();
    else if (flag == "--mode") o.mode = value();
    else if (flag == "--out") o.out = value();
    else if (flag == "--concurrency") o.concurrency = std::stoi(value());
    else if (flag == "--rate") o.rate = std::stod(value());
    else if (flag == "--duration") o.duration = std::stod(value());
    else if (flag == "--warmup") o.warmup = std::stod(value());
    else if (flag == "--drain") o.drain = std::stod(value());
    else if (flag == "--deadline-ms") o.deadline_ms = std::stoi(value());
    else if (flag == "--max-in-flight") o.max_in_flight = std::stoi(value());
    else if (flag == "--channels") o.channels = std::stoi(value());
    else if (flag == "--check") o.check = std::stoi(value());
    else if (flag == "--poisson") o.poisson = true;
    else if (flag == "--seed") o.seed = std::stoull(value());
    else Usage(("unknown flag " + flag).c_str());
  }
  if (o.requests.empty()) Usage("--requests is required");
  if (o.mode != "closed" && o.mode != "open") Usage("--mode is closed or open");
  if (o.concurrency < 1 || o.rate <= 0 || o.duration <= 0 || o.channels < 1 || o.max_in_flight < 1)
    Usage("concurrency, rate, duration, channels and max-in-flight must be positive");
  return o;
}

std::vector<grpc::ByteBuffer> LoadRequests(const Options &o) {
  std::ifstream in(o.requests);
  if (!in) Usage(("cannot read " + o.requests).c_str());
  std::vector<grpc::ByteBuffer> out;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    recsys::v1::RecommendRequest request;
    auto status = google::protobuf::util::JsonStringToMessage(line, &request);
    if (!status.ok()) {
      std::fprintf(stderr, "loadgen: %s:%d: %s\n", o.requests.c_str(), number, status.ToString().c_str());
      std::exit(2);
    }
    if (!o.model.empty()) request.set_model(o.model);
    std::string bytes = request.SerializeAsString();
    grpc::Slice slice(bytes);
    out.emplace_back(&slice, 1);
  }
  if (out.empty()) Usage("the request file is empty");
  return out;
}

struct Call {
  grpc::ClientContext context;
  grpc::ByteBuffer response;
  grpc::Status status;
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> reader;
  int64_t intended = 0;  // open loop: scheduled send time; closed loop: actual send time
  bool measured = false;
};

std::string ToJsonReply(const grpc::ByteBuffer &buffer) {
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (buffer.Dump(&slices).ok())
    for (const auto &slice : slices) bytes.append(reinterpret_cast<const char *>(slice.begin()), slice.size());
  recsys::v1::RecommendResponse response;
  if (!response.ParseFromString(bytes)) return "{\"error\": \"unparsable reply\"}";
  std::string json;
  google::protobuf::util::JsonPrintOptions print;
  print.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(response, &json, print);
  return json;
}

double Ms(uint64_t ns) { return static_cast<double>(ns) / 1e6; }

}  // namespace

int main(int argc, char **argv) {
  Options o = Parse(argc, argv);
  std::vector<grpc::ByteBuffer> requests = LoadRequests(o);

  std::vector<std::unique_ptr<grpc::GenericStub>> stubs;
  for (int c = 0; c < o.channels; ++c) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // one TCP connection per channel
    args.SetInt("grpc.channel_id", c);                   // distinct args: distinct subchannels
    args.SetMaxReceiveMessageSize(64 << 20);
    auto channel = grpc::CreateCustomChannel(o.target, grpc::InsecureChannelCredentials(), args);
    if (!channel->WaitForConnected(TimespecOf(NowNs() + 10'000'000'000LL))) {
      std::fprintf(stderr, "loadgen: cannot connect to %s\n", o.target.c_str());
      return 1;
    }
    stubs.push_back(std::make_unique<grpc::GenericStub>(channel));
  }

  grpc::CompletionQueue cq;
  std::atomic<uint64_t> next_request{0};
  std::atomic<int> in_flight{0};

  auto start_call = [&](int64_t intended, bool measured) {
    auto *call = new Call;
    call->intended = intended;
    call->measured = measured;
    call->context.set_deadline(TimespecOf(NowNs() + int64_t{o.deadline_ms} * 1'000'000));
    uint64_t index = next_request++;
    const grpc::ByteBuffer &request = requests[index % requests.size()];
    ++in_flight;
    call->reader = stubs[index % stubs.size()]->PrepareUnaryCall(&call->context, kMethod, request, &cq);
    call->reader->StartCall();
    call->reader->Finish(&call->response, &call->status, call);
  };

  if (o.check > 0) {  // sequential calls; print each reply (or error) as one JSON line
    for (int i = 0; i < o.check; ++i) {
      start_call(NowNs(), false);
      void *tag;
      bool ok;
      cq.Next(&tag, &ok);
      auto *call = static_cast<Call *>(tag);
      if (call->status.ok()) std::printf("%s\n", ToJsonReply(call->response).c_str());
      else std::printf("{\"grpc_error\": %d, \"message\": \"%s\"}\n", call->status.error_code(),
                       call->status.error_message().c_str());
      delete call;
    }
    return 0;
  }

  // Sleeps end within microseconds of their deadline instead of the default 50 us timer slack.
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  const bool open = o.mode == "open";
  const int64_t t0 = NowNs() + 1'000'000;
  const int64_t window_start = t0 + static_cast<int64_t>(o.warmup * 1e9);
  const int64_t window_end = window_start + static_cast<int64_t>(o.duration * 1e9);
  const int64_t drain_end = window_end + static_cast<int64_t>(o.drain * 1e9);

  // The completion thread: records every finished call and, in closed loop, starts the next one.
  std::mutex results_mutex;  // guards the results below (written by the completion thread)
  loadgen::Histogram latency;
  std::map<int, uint64_t> errors;
  uint64_t ok_calls = 0;
  std::thread completer([&] {
    void *tag;
    bool ok;
    while (cq.Next(&tag, &ok)) {
      int64_t done = NowNs();
      auto *call = static_cast<Call *>(tag);
      if (call->measured) {
        std::lock_guard<std::mutex> lock(results_mutex);
        if (call->status.ok()) {
          ++ok_calls;
          latency.Record(done - call->intended);
        } else {
          ++errors[call->status.error_code()];
        }
      }
      delete call;
      if (!open && done < window_end) start_call(done, done >= window_start);
      --in_flight;
    }
  });

  // The sender: open loop follows the schedule (sleeping until each intended send time); closed
  // loop fills the window once and lets the completion thread keep it full.
  loadgen::Histogram send_lag;
  uint64_t unsent = 0;
  if (open) {
    std::mt19937_64 rng(o.seed);
    std::exponential_distribution<double> gap(o.rate);
    const double interval_ns = 1e9 / o.rate;
    double next_intended = static_cast<double>(t0);
    for (uint64_t index = 1;; ++index) {
      int64_t intended = static_cast<int64_t>(next_intended);
      if (intended >= window_end) break;
      int64_t now = NowNs();
      if (now >= drain_end) {  // the rest of the window's schedule is never sent
        if (intended >= window_start) ++unsent;
      } else {
        if (intended > now) {
          std::this_thread::sleep_until(Clock::time_point(std::chrono::nanoseconds(intended)));
          now = NowNs();
        }
        while (in_flight.load() >= o.max_in_flight && now < drain_end) {
          std::this_thread::sleep_for(std::chrono::microseconds(100));
          now = NowNs();
        }
        if (now >= drain_end) {
          if (intended >= window_start) ++unsent;
        } else {
          bool measured = intended >= window_start;
          if (measured) send_lag.Record(now - intended);
          start_call(intended, measured);
        }
      }
      next_intended = o.poisson ? next_intended + gap(rng) * 1e9 : static_cast<double>(t0) + index * interval_ns;
    }
  } else {
    std::this_thread::sleep_until(Clock::time_point(std::chrono::nanoseconds(t0)));
    for (int i = 0; i < o.concurrency; ++i) start_call(NowNs(), false);
    std::this_thread::sleep_until(Clock::time_point(std::chrono::nanoseconds(window_end)));
  }
  // Wait for the calls in flight; every one has a deadline, so this ends.
  const int64_t give_up = std::max(NowNs(), drain_end) + int64_t{o.deadline_ms} * 1'000'000 + 1'000'000'000;
  while (in_flight.load() > 0 && NowNs() < give_up) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  bool stuck = in_flight.load() > 0;
  std::unique_lock<std::mutex> lock(results_mutex);

  uint64_t error_total = unsent;
  for (const auto &[code, count] : errors) error_total += count;
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  double cpu = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;

  std::ostringstream json;
  json.setf(std::ios::fixed);
  json.precision(4);
  json << "{\"mode\": \"" << o.mode << "\", \"target\": \"" << o.target << "\", \"requests_file\": \"" << o.requests
       << "\", \"request_count\": " << requests.size() << ", \"channels\": " << o.channels;
  if (open) json << ", \"offered_qps\": " << o.rate << ", \"poisson\": " << (o.poisson ? "true" : "false");
  else json << ", \"concurrency\": " << o.concurrency;
  json << ", \"duration_s\": " << o.duration << ", \"warmup_s\": " << o.warmup << ", \"ok\": " << ok_calls
       << ", \"qps\": " << ok_calls / o.duration << ", \"errors\": " << error_total << ", \"errors_by_code\": {";
  bool first = true;
  for (const auto &[code, count] : errors) {
    json << (first ? "" : ", ") << "\"" << code << "\": " << count;
    first = false;
  }
  json << "}, \"unsent\": " << unsent << ", \"latency_ms\": {\"p50\": " << Ms(latency.ValueAtPercentile(50))
       << ", \"p90\": " << Ms(latency.ValueAtPercentile(90)) << ", \"p99\": " << Ms(latency.ValueAtPercentile(99))
       << ", \"p99.9\": " << Ms(latency.ValueAtPercentile(99.9)) << ", \"max\": " << Ms(latency.Max())
       << ", \"mean\": " << latency.Mean() / 1e6 << ", \"min\": " << Ms(latency.Min()) << "}";
  if (open)
    json << ", \"send_lag_ms\": {\"p50\": " << Ms(send_lag.ValueAtPercentile(50))
         << ", \"p99\": " << Ms(send_lag.ValueAtPercentile(99)) << ", \"max\": " << Ms(send_lag.Max()) << "}";
  json << ", \"client_cpu_s\": " << cpu << "}\n";

  if (o.out.empty()) {
    std::cout << json.str();
  } else {
    std::ofstream(o.out) << json.str();
  }
  std::fflush(stdout);
  if (stuck) std::_Exit(0);  // calls past every deadline: do not wait for them
  lock.unlock();
  cq.Shutdown();
  completer.join();
  return 0;
}
