//! AI dialog quality, feedback and NPS from counters (mergeable across hours and days).

use serde::{Deserialize, Serialize};

fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

/// Counts from `ai_dialog_end` events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AiCounts {
    pub ended: u64,
    pub success: u64,
    pub knowledge_base: u64,
    pub generated: u64,
    pub human: u64,
}

impl AiCounts {
    pub fn merge(&mut self, o: &AiCounts) {
        self.ended += o.ended;
        self.success += o.success;
        self.knowledge_base += o.knowledge_base;
        self.generated += o.generated;
        self.human += o.human;
    }
    /// Ended with `success` / all ended.
    pub fn success_rate(&self) -> Option<f64> {
        ratio(self.success, self.ended)
    }
    /// `answer_source = knowledge_base` / all ended.
    pub fn kb_coverage(&self) -> Option<f64> {
        ratio(self.knowledge_base, self.ended)
    }
    /// `answer_source = human` / all ended.
    pub fn transfer_to_human(&self) -> Option<f64> {
        ratio(self.human, self.ended)
    }
}

/// Counts from `ai_dialog_feedback` events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedbackCounts {
    pub feedback: u64,
    pub resolved: u64,
    /// `ratings[r-1]` = number of ratings equal to r (1–5).
    pub ratings: [u64; 5],
}

impl FeedbackCounts {
    pub fn merge(&mut self, o: &FeedbackCounts) {
        self.feedback += o.feedback;
        self.resolved += o.resolved;
        for (a, b) in self.ratings.iter_mut().zip(o.ratings) {
            *a += b;
        }
    }
    fn rated(&self) -> u64 {
        self.ratings.iter().sum()
    }
    pub fn resolution_rate(&self) -> Option<f64> {
        ratio(self.resolved, self.feedback)
    }
    /// Mean rating (1–5).
    pub fn satisfaction(&self) -> Option<f64> {
        let total: u64 = self.ratings.iter().enumerate().map(|(i, n)| (i as u64 + 1) * n).sum();
        ratio(total, self.rated())
    }
    /// Ratings 1–2 / all ratings.
    pub fn bad_review_rate(&self) -> Option<f64> {
        ratio(self.ratings[0] + self.ratings[1], self.rated())
    }
}

/// NPS answers: `scores[s]` = number of answers with score s (0–10).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NpsCounts {
    pub scores: [u64; 11],
}

impl NpsCounts {
    pub fn merge(&mut self, o: &NpsCounts) {
        for (a, b) in self.scores.iter_mut().zip(o.scores) {
            *a += b;
        }
    }
    pub fn responses(&self) -> u64 {
        self.scores.iter().sum()
    }
    /// % promoters (9–10) − % detractors (0–6), from −100 to 100.
    pub fn nps(&self) -> Option<f64> {
        let n = self.responses();
        let promoters: u64 = self.scores[9..].iter().sum();
        let detractors: u64 = self.scores[..7].iter().sum();
        (n > 0).then(|| (promoters as f64 - detractors as f64) / n as f64 * 100.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ai_rates_by_hand() {
        let mut a = AiCounts { ended: 8, success: 6, knowledge_base: 4, generated: 3, human: 1 };
        assert_eq!(a.success_rate(), Some(0.75));
        assert_eq!(a.kb_coverage(), Some(0.5));
        assert_eq!(a.transfer_to_human(), Some(0.125));
        a.merge(&AiCounts { ended: 2, success: 0, knowledge_base: 0, generated: 1, human: 1 });
        assert_eq!(a.success_rate(), Some(0.6));
        assert_eq!(AiCounts::default().success_rate(), None);
    }

    #[test]
    fn feedback_by_hand() {
        // Ratings 5,5,4,2,1 → mean 3.4, bad 2/5; 3 of 5 resolved.
        let f = FeedbackCounts { feedback: 5, resolved: 3, ratings: [1, 1, 0, 1, 2] };
        assert_eq!(f.resolution_rate(), Some(0.6));
        assert!((f.satisfaction().expect("mean") - 3.4).abs() < 1e-12);
        assert_eq!(f.bad_review_rate(), Some(0.4));
        assert_eq!(FeedbackCounts::default().satisfaction(), None);
    }

    #[test]
    fn nps_by_hand() {
        // Scores 10,9,9,8,7,6,0,3 → promoters 3, detractors 3, n 8 → 0.
        let mut n = NpsCounts::default();
        for s in [10, 9, 9, 8, 7, 6, 0, 3] {
            n.scores[s] += 1;
        }
        assert_eq!(n.nps(), Some(0.0));
        n.scores[10] += 2; // promoters 5 of 10, detractors 3 → 20.
        assert_eq!(n.nps(), Some(20.0));
        assert_eq!(NpsCounts::default().nps(), None);
    }
}
