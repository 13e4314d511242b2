/** Types for natural's edit-distance file (imported alone: the package root loads storage backends and dotenv). */
declare module 'natural/lib/natural/distance/levenshtein_distance.js' {
  interface DistanceOptions { insertion_cost?: number; deletion_cost?: number; substitution_cost?: number; transposition_cost?: number; restricted?: boolean }
  const distance: {
    LevenshteinDistance(source: string, target: string, options?: DistanceOptions): number;
    DamerauLevenshteinDistance(source: string, target: string, options?: DistanceOptions): number;
  };
  export default distance;
}
