#include <memory>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>

#include "lookout/annotate/annotator.h"

namespace lookout {
namespace {

const cv::Scalar kGray(100, 110, 120);

Frame make_frame(cv::Mat image, std::vector<Detection> detections = {}) {
  Frame frame;
  frame.seq = 7;
  frame.pts_ns = 3'723'456'000'000;  // 01:02:03.456
  frame.image = std::move(image);
  frame.detections = std::move(detections);
  return frame;
}

Detection detection(cv::Rect box, const std::string& label) {
  Detection result;
  result.box = box;
  result.label = label;
  result.score = 1.23;
  return result;
}

// Pixels in `region` of `a` that differ from `b`.
int changed_pixels(const cv::Mat& a, const cv::Mat& b, cv::Rect region) {
  cv::Mat diff;
  cv::absdiff(a(region), b(region), diff);
  return cv::countNonZero(diff.reshape(1));
}

// The outline colour drawn for a box of `label`, sampled in the middle of its left edge.
cv::Vec3b outline_colour(const std::string& label) {
  cv::Mat image(240, 320, CV_8UC3, kGray);
  const cv::Rect box(100, 80, 120, 120);
  draw_annotations(image, make_frame(cv::Mat(), {detection(box, label)}));
  return image.at<cv::Vec3b>(box.y + box.height / 2, box.x);
}

TEST(Annotator, DrawsTheBoxOutline) {
  const cv::Mat original(240, 320, CV_8UC3, kGray);
  Frame frame = make_frame(original.clone(), {detection(cv::Rect(100, 80, 120, 120), "person")});

  Annotator().process(frame);

  // The left and bottom edges of the box, away from the label and the overlay.
  EXPECT_GT(changed_pixels(frame.image, original, cv::Rect(98, 120, 5, 60)), 0);
  EXPECT_GT(changed_pixels(frame.image, original, cv::Rect(120, 197, 60, 5)), 0);
  // The inside of the box is left alone.
  EXPECT_EQ(changed_pixels(frame.image, original, cv::Rect(110, 120, 100, 60)), 0);
}

TEST(Annotator, DrawsKeypointsAsDotsInsideTheBox) {
  const cv::Mat original(240, 320, CV_8UC3, kGray);
  Detection face = detection(cv::Rect(100, 80, 120, 120), "face");
  face.keypoints = {{130.0F, 120.0F}, {190.0F, 120.0F}};
  Frame frame = make_frame(original.clone(), {face});

  Annotator().process(frame);

  EXPECT_GT(changed_pixels(frame.image, original, cv::Rect(127, 117, 7, 7)), 0);
  EXPECT_GT(changed_pixels(frame.image, original, cv::Rect(187, 117, 7, 7)), 0);
  // Only around the points: the rest of the inside is left alone.
  EXPECT_EQ(changed_pixels(frame.image, original, cv::Rect(110, 140, 100, 50)), 0);
}

TEST(Annotator, DrawsTheOverlayInTheTopLeftCorner) {
  const cv::Mat original(240, 320, CV_8UC3, kGray);
  Frame frame = make_frame(original.clone());

  Annotator().process(frame);

  EXPECT_GT(changed_pixels(frame.image, original, cv::Rect(0, 0, 40, 10)), 0);
  EXPECT_EQ(changed_pixels(frame.image, original, cv::Rect(0, 120, 320, 120)), 0);
}

TEST(Annotator, DoesNotWriteToTheBorrowedBufferAndReplacesTheImage) {
  // A frame whose image borrows memory it must not write to, as capture hands them over.
  auto pixels = std::make_shared<std::vector<unsigned char>>(240 * 320 * 3, 77);
  const std::vector<unsigned char> before = *pixels;
  Frame frame = make_frame(cv::Mat(240, 320, CV_8UC3, pixels->data()),
                           {detection(cv::Rect(10, 30, 100, 100), "face")});
  frame.owner = pixels;

  Annotator().process(frame);

  EXPECT_EQ(*pixels, before);
  EXPECT_NE(frame.image.data, pixels->data());
  EXPECT_EQ(frame.image.size(), cv::Size(320, 240));
  EXPECT_EQ(frame.image.type(), CV_8UC3);
  EXPECT_GT(changed_pixels(frame.image, cv::Mat(240, 320, CV_8UC3, pixels->data()),
                           cv::Rect(0, 0, 320, 240)),
            0);
}

TEST(Annotator, LeavesDroppedMarkersUntouched) {
  Frame frame;
  frame.seq = 3;
  frame.status = FrameStatus::kDropped;

  Annotator().process(frame);

  EXPECT_TRUE(frame.image.empty());
  EXPECT_EQ(frame.status, FrameStatus::kDropped);
}

TEST(Annotator, LeavesTheEndOfStreamMarkerUntouched) {
  Frame frame = Frame::end_of_stream(0, 10);

  Annotator().process(frame);

  EXPECT_TRUE(frame.image.empty());
  EXPECT_TRUE(frame.is_end());
}

TEST(Annotator, MarksFailedFramesWithARedNote) {
  const cv::Mat original(240, 320, CV_8UC3, kGray);
  Frame ok = make_frame(original.clone());
  Frame failed = make_frame(original.clone());
  failed.fail("detect", "out of memory");

  Annotator().process(ok);
  Annotator().process(failed);

  // Below the overlay, the failed frame has a note the ok frame lacks, and it is mostly red.
  const cv::Rect note(0, 25, 200, 20);
  EXPECT_EQ(changed_pixels(ok.image, original, note), 0);
  ASSERT_GT(changed_pixels(failed.image, original, note), 0);
  const cv::Scalar mean = cv::mean(failed.image(note));
  EXPECT_GT(mean[2], mean[0] + 50);
  EXPECT_GT(mean[2], mean[1] + 50);
}

TEST(Annotator, OverlayOmitsTheTimeWhenItIsUnknown) {
  const cv::Mat original(240, 320, CV_8UC3, kGray);
  Frame timed = make_frame(original.clone());
  Frame untimed = make_frame(original.clone());
  untimed.pts_ns = -1;

  Annotator().process(timed);
  Annotator().process(untimed);

  // "#7" alone is narrower than "#7  01:02:03.456".
  const cv::Rect right_of_number(60, 0, 100, 15);
  EXPECT_GT(changed_pixels(timed.image, original, right_of_number), 0);
  EXPECT_EQ(changed_pixels(untimed.image, original, right_of_number), 0);
}

TEST(Annotator, KeepsLabelsInsideTheImage) {
  // A box in the bottom-right corner: its label cannot go above the top or past the right edge.
  const cv::Mat original(120, 160, CV_8UC3, kGray);
  Frame frame = make_frame(original.clone(), {detection(cv::Rect(150, 0, 10, 10), "person")});
  frame.pts_ns = -1;  // keeps the overlay ("#7") clear of the region checked below

  EXPECT_NO_THROW(Annotator().process(frame));
  // The label was pulled left into view rather than drawn off the image.
  EXPECT_GT(changed_pixels(frame.image, original, cv::Rect(90, 0, 50, 12)), 0);
}

TEST(Annotator, ColourPerLabelIsStableAndDistinct) {
  const cv::Vec3b person = outline_colour("person");
  const cv::Vec3b face = outline_colour("face");
  EXPECT_EQ(outline_colour("person"), person);
  EXPECT_EQ(outline_colour("face"), face);
  EXPECT_NE(person, face);
  EXPECT_NE(person, cv::Vec3b(100, 110, 120));
  EXPECT_NE(face, cv::Vec3b(100, 110, 120));
}

}  // namespace
}  // namespace lookout
