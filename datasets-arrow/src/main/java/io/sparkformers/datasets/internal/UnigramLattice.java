package io.sparkformers.datasets.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;

/**
 * The lattice of all segmentations of one text into the pieces of a Unigram model, as the tokenizers library
 * builds it (positions count code points): the best segmentation (Viterbi), the two best ones (A* search) and
 * the expected count of every piece (forward-backward), which the trainer's EM steps use. The order of
 * operations follows the library's, so that sums round as its do and ties go the same way.
 */
final class UnigramLattice {
  static final class Node {
    final int pieceId;
    final int nodeId;
    final int pos;
    final int length;
    final double score;
    Node prev;
    double backtraceScore;

    Node(int pieceId, int nodeId, int pos, int length, double score) {
      this.pieceId = pieceId;
      this.nodeId = nodeId;
      this.pos = pos;
      this.length = length;
      this.score = score;
    }
  }

  final int[] text;
  final int length;
  private final List<Node> nodes = new ArrayList<>();
  private final List<List<Node>> beginNodes = new ArrayList<>();
  private final List<List<Node>> endNodes = new ArrayList<>();

  UnigramLattice(int[] text, int bosId, int eosId) {
    this.text = text;
    this.length = text.length;
    for (int i = 0; i <= length; i++) {
      beginNodes.add(new ArrayList<>());
      endNodes.add(new ArrayList<>());
    }
    Node bos = new Node(bosId, 0, 0, 0, 0.0);
    Node eos = new Node(eosId, 1, length, 0, 0.0);
    beginNodes.get(length).add(eos);
    endNodes.get(0).add(bos);
    nodes.add(bos);
    nodes.add(eos);
  }

  void insert(int pos, int length, double score, int pieceId) {
    Node node = new Node(pieceId, nodes.size(), pos, length, score);
    beginNodes.get(pos).add(node);
    endNodes.get(pos + length).add(node);
    nodes.add(node);
  }

  private Node bos() {
    return endNodes.get(0).get(0);
  }

  private Node eos() {
    return beginNodes.get(length).get(0);
  }

  /** The best segmentation (without the begin and end nodes), or an empty list when there is none. */
  List<Node> viterbi() {
    for (int pos = 0; pos <= length; pos++) {
      if (beginNodes.get(pos).isEmpty()) {
        return List.of();
      }
      for (Node right : beginNodes.get(pos)) {
        right.prev = null;
        Node best = null;
        double bestScore = 0.0;
        for (Node left : endNodes.get(pos)) {
          double score = left.backtraceScore + right.score;
          if (best == null || score > bestScore) {
            best = left;
            bestScore = score;
          }
        }
        if (best == null) {
          return List.of();
        }
        right.prev = best;
        right.backtraceScore = bestScore;
      }
    }
    Node node = eos().prev;
    if (node == null) {
      return List.of();
    }
    List<Node> path = new ArrayList<>();
    while (node.prev != null) {
      path.add(node);
      node = node.prev;
    }
    java.util.Collections.reverse(path);
    return path;
  }

  private record Hypothesis(Node node, Hypothesis next, double fx, double gx, long order) {}

  /** The {@code n} best segmentations, best first, by A* search with the Viterbi scores as the estimate. */
  List<List<Node>> nBest(int n) {
    List<List<Node>> found = new ArrayList<>();
    PriorityQueue<Hypothesis> agenda = new PriorityQueue<>((a, b) -> a.fx != b.fx ? Double.compare(b.fx, a.fx)
        : Long.compare(a.order, b.order));
    long order = 0;
    Node eos = eos();
    agenda.add(new Hypothesis(eos, null, eos.score, eos.score, order++));
    viterbi();
    int bosId = bos().pieceId;
    while (!agenda.isEmpty()) {
      Hypothesis top = agenda.poll();
      if (top.node.pieceId == bosId) {
        List<Node> path = new ArrayList<>();
        for (Hypothesis h = top.next; h.next != null; h = h.next) {
          path.add(h.node);
        }
        found.add(path);
        if (found.size() == n) {
          return found;
        }
      } else {
        for (Node left : endNodes.get(top.node.pos)) {
          agenda.add(new Hypothesis(left, top, left.backtraceScore + top.gx, left.score + top.gx, order++));
        }
      }
    }
    return found;
  }

  private static double logSumExp(double x, double y, boolean initMode) {
    if (initMode) {
      return y;
    }
    double min = x > y ? y : x;
    double max = x > y ? x : y;
    if (max > min + 50.0) {
      return max;
    }
    return max + Math.log(Math.exp(min - max) + 1.0);
  }

  /**
   * Adds {@code freq} × the marginal probability of each node to {@code expected} (by piece id) and gives
   * {@code freq} × the log of the text's total probability.
   */
  double populateMarginal(double freq, double[] expected) {
    double[] alpha = new double[nodes.size()];
    double[] beta = new double[nodes.size()];
    for (int pos = 0; pos <= length; pos++) {
      List<Node> ends = endNodes.get(pos);
      for (Node right : beginNodes.get(pos)) {
        for (Node left : ends) {
          // The library tells the first node apart by piece id (its Node equality), not by identity.
          alpha[right.nodeId] = logSumExp(alpha[right.nodeId], left.score + alpha[left.nodeId],
              left.pieceId == ends.get(0).pieceId);
        }
      }
    }
    for (int pos = length; pos >= 0; pos--) {
      List<Node> begins = beginNodes.get(pos);
      for (Node left : endNodes.get(pos)) {
        for (Node right : begins) {
          beta[left.nodeId] = logSumExp(beta[left.nodeId], right.score + beta[right.nodeId],
              right.pieceId == begins.get(0).pieceId);
        }
      }
    }
    double z = alpha[eos().nodeId];
    for (int pos = 0; pos < length; pos++) {
      for (Node node : beginNodes.get(pos)) {
        double total = alpha[node.nodeId] + node.score + beta[node.nodeId] - z;
        expected[node.pieceId] += freq * Math.exp(total);
      }
    }
    return freq * z;
  }
}
