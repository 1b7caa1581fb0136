/* The Edge's HM01B0 camera: 324 x 244 8-bit grey frames (hm01b0.c). */
#ifndef SMILE_HM01B0_H_
#define SMILE_HM01B0_H_
#include <stdint.h>

#define HM01B0_WIDTH 324
#define HM01B0_HEIGHT 244
#define HM01B0_I2C_ADDRESS 0x24
#define HM01B0_MODEL_ID 0x01B0

enum camera_status {
  CAMERA_OK = 0,
  CAMERA_NO_ACK = 1,      /* no sensor answered on I2C (unplugged, unpowered) */
  CAMERA_WRONG_ID = 2,    /* a device answered, but its model id is not the HM01B0's */
  CAMERA_TIMEOUT = 3,     /* no line (HSYNC) or pixel clock within the time a frame takes */
};

/* Powers the sensor, starts its clock, checks its id and writes the 324 x 244 8-bit register
   script. Returns a camera_status. */
int camera_init(void);
/* Takes one frame into `frame` (HM01B0_WIDTH * HM01B0_HEIGHT bytes, row-major). */
int camera_capture(uint8_t* frame);
#endif
